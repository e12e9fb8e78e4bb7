// Batch check of phoenix.js's socket URLs and auth-token subprotocols (tests/compat/test_url_js.py).
//
// stdin:  {"urls": [{endpoint, params, vsn?}], "tokens": [token]}
// stdout: {"urls": [{websocket, longpoll} | {error}], "tokens": [protocols | {error}]}
//   websocket: Socket#endPointURL(); longpoll: the URL LongPoll derives from it
//   (LongPoll#normalizeEndpoint, before it adds its session token).
//   protocols: the second argument Socket passes to its transport's constructor.
import { LongPoll, Socket } from "phoenix"
import { attempt, readInput, writeOutput } from "./batch_io.mjs"

// A transport that only records how the socket constructed it.
class RecordingTransport {
  static last = null

  constructor(url, protocols) {
    RecordingTransport.last = { url, protocols }
    this.readyState = 0
  }

  close() {}
}

const urlOne = ({ endpoint, params, vsn }) => {
  const opts = { params, transport: RecordingTransport }
  if (vsn !== undefined) opts.vsn = vsn
  const socket = new Socket(endpoint, opts)
  const websocket = socket.endPointURL()
  const longpoll = LongPoll.prototype.normalizeEndpoint.call(null, websocket)
  return { websocket, longpoll }
}

const tokenOne = (token) => {
  const socket = new Socket("ws://localhost:4000/socket", {
    authToken: token,
    transport: RecordingTransport,
  })
  RecordingTransport.last = null
  socket.connect()
  const { protocols } = RecordingTransport.last
  socket.disconnect()
  return protocols
}

const input = await readInput()
const result = {
  urls: (input.urls || []).map(attempt(urlOne)),
  tokens: (input.tokens || []).map(attempt(tokenOne)),
}
// disconnect() leaves its drain timer behind: end once the answer is flushed
writeOutput(result, { exit: true })
