// Drive phoenix.js's LongPoll transport against our /socket/longpoll endpoint
// (tests/longpoll/test_phoenix_js.py).
//
// stdin:  {"url": "ws://127.0.0.1:PORT/socket", "params": {...}, "authToken": "..."}
// stdout: {"events": [[name, data]...]} once the script is done, or {"error": "..."}
//   open, join {status, response}, ping {status, response}, whoami {response},
//   shout {payload}, news {payload}, closed.
// The Python side broadcasts "news" on room:js when it reads "ready" on stderr.
import { Socket, LongPoll } from "phoenix"

const input = JSON.parse(await new Promise((resolve) => {
  let data = ""
  process.stdin.on("data", (chunk) => { data += chunk })
  process.stdin.on("end", () => resolve(data))
}))

const events = []
const finish = (out) => {
  process.stdout.write(JSON.stringify(out) + "\n")
  process.exit(0)
}
const guard = setTimeout(() => finish({ error: "timed out", events }), 15000)

const socket = new Socket(input.url, {
  transport: LongPoll,
  params: input.params,
  authToken: input.authToken,
  longpollerTimeout: 5000,
})
const channel = socket.channel("room:js", {})
const push = (event, payload) => new Promise((resolve, reject) => {
  channel.push(event, payload)
    .receive("ok", (response) => resolve({ status: "ok", response }))
    .receive("error", (response) => resolve({ status: "error", response }))
    .receive("timeout", () => reject(new Error(`${event} timed out`)))
})
const next = (event) => new Promise((resolve) => {
  const ref = channel.on(event, (payload) => { channel.off(event, ref); resolve(payload) })
})

try {
  const opened = new Promise((resolve) => socket.onOpen(resolve))
  socket.connect()
  await opened
  events.push(["open", socket.transport === LongPoll && socket.conn instanceof LongPoll])
  const joined = await new Promise((resolve, reject) => {
    channel.join()
      .receive("ok", (response) => resolve({ status: "ok", response }))
      .receive("error", (response) => resolve({ status: "error", response }))
      .receive("timeout", () => reject(new Error("join timed out")))
  })
  events.push(["join", joined])
  events.push(["ping", await push("ping", { n: 1, s: "héllo" })])
  events.push(["whoami", await push("whoami", {})])
  const shout = next("shout")
  channel.push("shout", { hi: 1 })
  events.push(["shout", { payload: await shout }])
  const news = next("news")
  process.stderr.write("ready\n")
  events.push(["news", { payload: await news }])
  await new Promise((resolve) => socket.disconnect(resolve))
  events.push(["closed", socket.connectionState()])
  clearTimeout(guard)
  finish({ events })
} catch (err) {
  finish({ error: String(err), events })
}
