// Drive the official phoenix.js client from line-delimited JSON commands.
//
// stdin:  one command per line, {"cmd": NAME, "cid": N, ...args}
// stdout: one event per line, {"type": T, "seq": N, "t": ms since start, ...}
//
// Every command is answered by {"type": "ack", "cid": N, "result": ...} once its
// synchronous part has run, or {"type": "cmd_error", "cid": N, "error": "..."}
// when phoenix.js (or the driver) threw. Events caused synchronously by a command
// come before its ack. Byte payloads travel as {"$bytes": base64} both ways.
//
// Commands (socket ids default to "s"; channel ids are chosen by the caller):
//   socket      {socket, url, params, vsn, authToken, timeout, heartbeatIntervalMs,
//                reconnectAfterMs: [ms...], rejoinAfterMs: [ms...], serializer: "v1"|"v2",
//                messages: bool (default true), raw: bool, logger: bool,
//                transport: "websocket" (default, node's ws) | "longpoll" (phoenix.js LongPoll,
//                over node's fetch; encode/decode and raw are then phoenix.js's own)}
//   connect     {socket}                 disconnect {socket, code, reason}
//   ping        {socket}                 -> event "pong" {rtt}
//   send_raw    {socket, data}           write a text (or {$bytes}) frame on the transport
//   channel     {socket, channel, topic, params}
//   join        {channel, timeout}       -> "join_reply" {status, response} (every (re)join)
//   leave       {channel, timeout}       -> "leave_reply" {status, response}
//   push        {channel, event, payload, timeout, push_id, statuses: [extra statuses]}
//                                        -> "push_reply" {push_id, status, response}
//   on          {channel, event}         -> "event" {topic, event, payload, ref, join_ref}
//   off         {channel, event, ref}
//   presence    {channel, events: {state, diff}} -> "presence_sync" {list},
//                "presence_join" {key, current, new}, "presence_leave" {key, current, left}
//   state       {}                       result: {sockets: {...}, channels: {...}}
//   exit        {}
// Socket events: "open", "close" {code, reason, wasClean}, "error" {error},
// "msg" (every decoded message, when messages is on), "raw_in"/"raw_out" {data}
// (when raw is on), "log" {kind, msg, data} (when logger is on), "disconnected"
// (disconnect callback). Channel events: "channel_error" {payload},
// "channel_close" {payload}. Every socket event carries "socket"; every channel
// event carries "channel" and "topic".

import { createInterface } from "node:readline"
import { performance } from "node:perf_hooks"
import WebSocket from "ws"
import { Socket, Presence, Serializer, LongPoll } from "phoenix"

const started = performance.now()
let seq = 0
const sockets = new Map()
const channels = new Map()

function toWire(value){
  if(value instanceof ArrayBuffer){ return {$bytes: Buffer.from(value).toString("base64")} }
  if(ArrayBuffer.isView(value)){
    return {$bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64")}
  }
  if(Array.isArray(value)){ return value.map(toWire) }
  if(value && typeof value === "object"){
    const out = {}
    for(const [k, v] of Object.entries(value)){ out[k] = toWire(v) }
    return out
  }
  return value
}

function fromWire(value){
  if(Array.isArray(value)){ return value.map(fromWire) }
  if(value && typeof value === "object"){
    const keys = Object.keys(value)
    if(keys.length === 1 && keys[0] === "$bytes"){
      const buf = Buffer.from(value.$bytes, "base64")
      return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)
    }
    const out = {}
    for(const [k, v] of Object.entries(value)){ out[k] = fromWire(v) }
    return out
  }
  return value
}

function emit(type, fields = {}){
  seq += 1
  const t = Math.round((performance.now() - started) * 1000) / 1000
  process.stdout.write(JSON.stringify({type, seq, t, ...toWire(fields)}) + "\n")
}

function schedule(list){
  // phoenix.js calls the schedule with tries = 1, 2, ...; the last entry repeats.
  return tries => list[Math.min(tries, list.length) - 1]
}

// The V1 JSON serializer of phoenix.js before 1.5: a plain object per message.
const v1Serializer = {
  encode(msg, callback){ return callback(JSON.stringify(msg)) },
  decode(raw, callback){ return callback(JSON.parse(raw)) },
}

function getSocket(id = "s"){
  const entry = sockets.get(id)
  if(!entry){ throw new Error(`no socket ${JSON.stringify(id)}`) }
  return entry
}

function getChannel(id){
  const entry = channels.get(id)
  if(!entry){ throw new Error(`no channel ${JSON.stringify(id)}`) }
  return entry
}

function replyHooks(push, statuses, report){
  for(const status of ["ok", "error", "timeout", ...(statuses || [])]){
    push.receive(status, response => report(status, response))
  }
}

const commands = {
  socket(args){
    const id = args.socket || "s"
    if(sockets.has(id)){ throw new Error(`socket ${id} exists`) }
    const vsn = args.vsn || "2.0.0"
    const serializer = args.serializer || (vsn.startsWith("1.") ? "v1" : "v2")
    const base = serializer === "v1" ? v1Serializer : Serializer
    const longpoll = args.transport === "longpoll"
    if(args.transport && !longpoll && args.transport !== "websocket"){
      throw new Error(`unknown transport ${JSON.stringify(args.transport)}`)
    }
    const opts = {transport: longpoll ? LongPoll : WebSocket, vsn}
    for(const key of ["params", "authToken", "timeout", "heartbeatIntervalMs"]){
      if(args[key] !== undefined && args[key] !== null){ opts[key] = args[key] }
    }
    if(args.reconnectAfterMs){ opts.reconnectAfterMs = schedule(args.reconnectAfterMs) }
    if(args.rejoinAfterMs){ opts.rejoinAfterMs = schedule(args.rejoinAfterMs) }
    opts.encode = (msg, callback) => base.encode(msg, result => {
      if(args.raw){ emit("raw_out", {socket: id, data: result}) }
      return callback(result)
    })
    opts.decode = (raw, callback) => {
      if(args.raw){ emit("raw_in", {socket: id, data: raw}) }
      return base.decode(raw, callback)
    }
    if(args.logger){ opts.logger = (kind, msg, data) => emit("log", {socket: id, kind, msg, data}) }
    const socket = new Socket(args.url, opts)
    socket.onOpen(() => emit("open", {socket: id}))
    socket.onClose(event => emit("close", {
      socket: id, code: event.code, reason: String(event.reason || ""), wasClean: event.wasClean,
    }))
    socket.onError(error => emit("error", {
      socket: id, error: String((error && (error.message || error.type)) || error),
    }))
    if(args.messages !== false){
      socket.onMessage(msg => emit("msg", {
        socket: id, topic: msg.topic, event: msg.event, payload: msg.payload,
        ref: msg.ref ?? null, join_ref: msg.join_ref ?? null,
      }))
    }
    sockets.set(id, {socket, id})
    return {endPointURL: socket.endPointURL()}
  },

  connect(args){ getSocket(args.socket).socket.connect() },

  disconnect(args){
    const {socket, id} = getSocket(args.socket)
    socket.disconnect(() => emit("disconnected", {socket: id}), args.code, args.reason)
  },

  send_raw(args){
    // Write a frame straight to the transport, bypassing phoenix.js (text, or {$bytes}).
    const {socket} = getSocket(args.socket)
    if(!socket.isConnected()){ throw new Error("socket is not open") }
    const data = fromWire(args.data)
    socket.conn.send(data instanceof ArrayBuffer ? Buffer.from(data) : data)
  },

  ping(args){
    const {socket, id} = getSocket(args.socket)
    return socket.ping(rtt => emit("pong", {socket: id, rtt}))
  },

  channel(args){
    const id = args.channel
    if(!id || channels.has(id)){ throw new Error(`channel id ${JSON.stringify(id)} missing or taken`) }
    const {socket, id: socketId} = getSocket(args.socket)
    const channel = socket.channel(args.topic, fromWire(args.params || {}))
    const tag = {socket: socketId, channel: id, topic: args.topic}
    channel.onError(payload => emit("channel_error", {...tag, payload: payload ?? null}))
    channel.onClose(payload => emit("channel_close", {...tag, payload: payload ?? null}))
    channels.set(id, {channel, tag, presence: null})
  },

  join(args){
    const {channel, tag} = getChannel(args.channel)
    const push = args.timeout ? channel.join(args.timeout) : channel.join()
    replyHooks(push, args.statuses, (status, response) =>
      emit("join_reply", {...tag, status, response: response ?? null}))
  },

  leave(args){
    const {channel, tag} = getChannel(args.channel)
    const push = args.timeout ? channel.leave(args.timeout) : channel.leave()
    replyHooks(push, [], (status, response) =>
      emit("leave_reply", {...tag, status, response: response ?? null}))
  },

  push(args){
    const {channel, tag} = getChannel(args.channel)
    const payload = fromWire(args.payload === undefined ? {} : args.payload)
    const push = args.timeout
      ? channel.push(args.event, payload, args.timeout)
      : channel.push(args.event, payload)
    const pushId = args.push_id ?? null
    replyHooks(push, args.statuses, (status, response) =>
      emit("push_reply", {...tag, push_id: pushId, event: args.event, status, response: response ?? null}))
  },

  on(args){
    const {channel, tag} = getChannel(args.channel)
    return channel.on(args.event, (payload, ref, joinRef) => emit("event", {
      ...tag, event: args.event, payload: payload ?? null, ref: ref ?? null, join_ref: joinRef ?? null,
    }))
  },

  off(args){
    const {channel} = getChannel(args.channel)
    channel.off(args.event, args.ref ?? undefined)
  },

  presence(args){
    const entry = getChannel(args.channel)
    const presence = new Presence(entry.channel, args.events ? {events: args.events} : {})
    const tag = entry.tag
    presence.onJoin((key, current, joined) =>
      emit("presence_join", {...tag, key, current: current ?? null, new: joined}))
    presence.onLeave((key, current, left) =>
      emit("presence_leave", {...tag, key, current, left}))
    presence.onSync(() => emit("presence_sync", {...tag, list: presenceMap(presence)}))
    entry.presence = presence
  },

  state(){
    const out = {sockets: {}, channels: {}}
    for(const [id, {socket}] of sockets){
      out.sockets[id] = {
        connectionState: socket.connectionState(),
        isConnected: socket.isConnected(),
        channels: socket.channels.length,
      }
    }
    for(const [id, {channel, presence}] of channels){
      out.channels[id] = {
        topic: channel.topic, state: channel.state, joinRef: channel.joinRef() ?? null,
        presence: presence ? presenceMap(presence) : null,
      }
    }
    return out
  },

  exit(){
    for(const {socket} of sockets.values()){
      socket.reconnectTimer.reset()
      if(socket.conn){ socket.conn.terminate ? socket.conn.terminate() : socket.conn.close() }
    }
    process.stdout.write("", () => process.exit(0))
    return "bye"
  },
}

function presenceMap(presence){
  // list() keyed by presence key: {key: {metas, ...extra}}
  const out = {}
  presence.list((key, entry) => { out[key] = entry })
  return out
}

const lines = createInterface({input: process.stdin})
lines.on("line", line => {
  if(!line.trim()){ return }
  let command
  try {
    command = JSON.parse(line)
  } catch(error){
    emit("cmd_error", {cid: null, error: `bad JSON: ${error.message}`})
    return
  }
  const handler = commands[command.cmd]
  try {
    if(!handler){ throw new Error(`unknown command ${JSON.stringify(command.cmd)}`) }
    const result = handler(command)
    emit("ack", {cid: command.cid ?? null, cmd: command.cmd, result: result ?? null})
  } catch(error){
    emit("cmd_error", {cid: command.cid ?? null, cmd: command.cmd, error: String(error && error.message || error)})
  }
})
lines.on("close", () => commands.exit())

process.on("uncaughtException", error => emit("driver_error", {error: String(error && error.stack || error)}))
