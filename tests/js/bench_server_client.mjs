// Load generator for scripts/bench_server.py: the official phoenix.js client.
//
// stdin: {"url": "ws://127.0.0.1:P/socket", "connections": 4, "total": 20000,
//         "window": 100, "payload": {...}, "event": "echo", "timeout": 30000}
// stdout: one JSON line {"replies", "ok", "errors", "timeouts", "elapsed_ms", "rate"}
//
// Each connection is its own Socket joined to bench:<i>; it keeps `window` echo
// pushes in flight until its share of `total` has been answered. The clock runs
// from the first push (all joins done) to the last reply.

import { performance } from "node:perf_hooks"
import WebSocket from "ws"
import { Socket } from "phoenix"

function readStdin(){
  return new Promise((resolve, reject) => {
    let text = ""
    process.stdin.setEncoding("utf8")
    process.stdin.on("data", chunk => { text += chunk })
    process.stdin.on("end", () => resolve(JSON.parse(text)))
    process.stdin.on("error", reject)
  })
}

function withDeadline(promise, ms, what){
  let timer
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

function joinOne(url, index, timeout){
  const socket = new Socket(url, {transport: WebSocket, timeout, params: {user_id: `bench${index}`}})
  socket.connect()
  const channel = socket.channel(`bench:${index}`, {})
  return new Promise((resolve, reject) => {
    channel.join()
      .receive("ok", () => resolve({socket, channel}))
      .receive("error", response => reject(new Error(`join error ${JSON.stringify(response)}`)))
      .receive("timeout", () => reject(new Error("join timeout")))
  })
}

function drive({channel}, quota, window, event, payload, timeout, counts){
  return new Promise(resolve => {
    let sent = 0
    let answered = 0
    let inflight = 0
    const answer = status => {
      counts[status] += 1
      answered += 1
      inflight -= 1
      if(answered === quota){ resolve() } else { pump() }
    }
    const pump = () => {
      while(inflight < window && sent < quota){
        sent += 1
        inflight += 1
        channel.push(event, payload, timeout)
          .receive("ok", () => answer("ok"))
          .receive("error", () => answer("errors"))
          .receive("timeout", () => answer("timeouts"))
      }
    }
    if(quota === 0){ resolve() } else { pump() }
  })
}

const config = await readStdin()
const connections = config.connections ?? 4
const total = config.total ?? 20000
const window = config.window ?? 100
const event = config.event ?? "echo"
const payload = config.payload ?? {body: "hello"}
const timeout = config.timeout ?? 30000

const joined = await withDeadline(
  Promise.all(Array.from({length: connections}, (_, i) => joinOne(config.url, i, timeout))),
  timeout, "joins")
const counts = {ok: 0, errors: 0, timeouts: 0}
const started = performance.now()
await withDeadline(Promise.all(joined.map((conn, i) => {
  const quota = Math.floor(total / connections) + (i < total % connections ? 1 : 0)
  return drive(conn, quota, window, event, payload, timeout, counts)
})), timeout * 2, "pushes")
const elapsed = performance.now() - started
for(const {socket} of joined){ socket.disconnect() }
const replies = counts.ok + counts.errors
process.stdout.write(JSON.stringify({
  replies, ok: counts.ok, errors: counts.errors, timeouts: counts.timeouts,
  elapsed_ms: elapsed, rate: replies / (elapsed / 1000),
}) + "\n", () => process.exit(0))
