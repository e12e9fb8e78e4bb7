// Batch check of phoenix.js's Serializer against ours (tests/compat/test_serializer_js.py).
//
// stdin:  {"encode": [msg...], "decode": [frame...]}
//   msg:   {join_ref, ref, topic, event, payload} or with payload_b64 (an ArrayBuffer payload)
//   frame: {text} or {b64} (a binary frame)
// stdout: {"encode": [{text} | {b64} | {error}], "decode": [decoded | {error}]}
//   decoded binary payloads (and a binary reply's response) come back as payload_b64 /
//   response_b64.
import { Serializer } from "phoenix"
import { attempt, readInput, writeOutput } from "./batch_io.mjs"

const toB64 = (buffer) => Buffer.from(buffer).toString("base64")
const fromB64 = (b64) => {
  const bytes = Buffer.from(b64, "base64")
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)
}

const encodeOne = (msg) => {
  const payload = "payload_b64" in msg ? fromB64(msg.payload_b64) : msg.payload
  const out = Serializer.encode({ ...msg, payload }, (raw) => raw)
  return typeof out === "string" ? { text: out } : { b64: toB64(out) }
}

const decodeOne = (frame) => {
  const raw = "b64" in frame ? fromB64(frame.b64) : frame.text
  const msg = Serializer.decode(raw, (decoded) => decoded)
  const out = { join_ref: msg.join_ref, ref: msg.ref, topic: msg.topic, event: msg.event }
  if (msg.payload instanceof ArrayBuffer) {
    out.payload_b64 = toB64(msg.payload)
  } else if (msg.payload && msg.payload.response instanceof ArrayBuffer) {
    out.payload = { status: msg.payload.status, response_b64: toB64(msg.payload.response) }
  } else {
    out.payload = msg.payload
  }
  return out
}

const input = await readInput()
const result = {
  encode: (input.encode || []).map(attempt(encodeOne)),
  decode: (input.decode || []).map(attempt(decodeOne)),
}
writeOutput(result)
