// Client side of scripts/bench_roundtrip.py: the official phoenix.js client.
//
// stdin: {"url": "ws://127.0.0.1:P/socket", "topic": "bench:1", "warmup": 200,
//         "sequential": 2000, "total": 20000, "window": 500, "fanout": 5000,
//         "big_total": 20000, "big_size": 10240, "timeout": 60000}
// stdout: one JSON line {"p50_us", "p99_us", "pipe_rate", "pipe_cpu_us",
//         "tick_rate", "tick_cpu_us", "big_rate", "big_cpu_us"}
//
// CPU figures are this process's user+system time (process.cpuUsage) per reply or
// per tick, in microseconds.

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

function cpuUs(){
  const {user, system} = process.cpuUsage()
  return user + system
}

function pushOnce(channel, event, payload, timeout){
  return new Promise((resolve, reject) => {
    channel.push(event, payload, timeout)
      .receive("ok", resolve)
      .receive("error", response => reject(new Error(`push error ${JSON.stringify(response)}`)))
      .receive("timeout", () => reject(new Error("push timeout")))
  })
}

function percentile(sorted, q){
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[index]
}

async function sequential(channel, warmup, count, timeout){
  for(let i = 0; i < warmup; i++){ await pushOnce(channel, "echo", {i}, timeout) }
  const samples = []
  for(let i = 0; i < count; i++){
    const start = performance.now()
    await pushOnce(channel, "echo", {i}, timeout)
    samples.push((performance.now() - start) * 1000)
  }
  samples.sort((a, b) => a - b)
  return {p50_us: percentile(samples, 0.5), p99_us: percentile(samples, 0.99)}
}

function pipelined(channel, total, window, makePayload, timeout){
  return new Promise((resolve, reject) => {
    let sent = 0
    let answered = 0
    let inflight = 0
    const cpu0 = cpuUs()
    const start = performance.now()
    const answer = () => {
      answered += 1
      inflight -= 1
      if(answered === total){
        const elapsed = (performance.now() - start) / 1000
        resolve({rate: total / elapsed, cpu_us: (cpuUs() - cpu0) / total})
      } else { pump() }
    }
    const pump = () => {
      while(inflight < window && sent < total){
        const payload = makePayload(sent)
        sent += 1
        inflight += 1
        channel.push("echo", payload, timeout)
          .receive("ok", answer)
          .receive("error", response => reject(new Error(`push error ${JSON.stringify(response)}`)))
          .receive("timeout", () => reject(new Error("push timeout")))
      }
    }
    pump()
  })
}

function broadcast(channel, n, timeout){
  return new Promise((resolve, reject) => {
    let ticks = 0
    const cpu0 = cpuUs()
    const start = performance.now()
    const timer = setTimeout(() => reject(new Error(`only ${ticks} of ${n} ticks`)), timeout)
    const ref = channel.on("tick", () => {
      ticks += 1
      if(ticks === n){
        const elapsed = (performance.now() - start) / 1000
        clearTimeout(timer)
        channel.off("tick", ref)
        resolve({rate: n / elapsed, cpu_us: (cpuUs() - cpu0) / n})
      }
    })
    channel.push("fanout", {n}, timeout)
      .receive("error", response => reject(new Error(`fanout error ${JSON.stringify(response)}`)))
  })
}

const config = await readStdin()
const timeout = config.timeout ?? 60000
const only = config.only ?? ["sequential", "pipelined", "broadcast", "big"]
const socket = new Socket(config.url, {transport: WebSocket, timeout})
socket.connect()
const channel = socket.channel(config.topic ?? "bench:1", {})
await new Promise((resolve, reject) => {
  channel.join()
    .receive("ok", resolve)
    .receive("error", response => reject(new Error(`join error ${JSON.stringify(response)}`)))
    .receive("timeout", () => reject(new Error("join timeout")))
})

const result = {}
if(only.includes("sequential")){
  Object.assign(result, await sequential(channel, config.warmup ?? 200, config.sequential ?? 2000, timeout))
}
if(only.includes("pipelined")){
  const {rate, cpu_us} = await pipelined(
    channel, config.total ?? 20000, config.window ?? 500, i => ({i}), timeout)
  Object.assign(result, {pipe_rate: rate, pipe_cpu_us: cpu_us})
}
if(only.includes("broadcast")){
  const {rate, cpu_us} = await broadcast(channel, config.fanout ?? 5000, timeout)
  Object.assign(result, {tick_rate: rate, tick_cpu_us: cpu_us})
}
if(only.includes("big")){
  const body = "x".repeat(config.big_size ?? 10240)
  const {rate, cpu_us} = await pipelined(
    channel, config.big_total ?? 20000, config.window ?? 500, i => ({i, body}), timeout)
  Object.assign(result, {big_rate: rate, big_cpu_us: cpu_us})
}
process.stdout.write(JSON.stringify(result) + "\n")
socket.disconnect(() => process.exit(0))
setTimeout(() => process.exit(0), 1000)
