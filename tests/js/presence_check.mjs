// Differential check of presence against npm phoenix's Presence.
//
// stdin: {"cases": [case, ...]} where a case is either
//   {"kind": "static", "ops": [{"op": "state" | "diff", "payload": ...}, ...]}
//     runs Presence.syncState / Presence.syncDiff from an empty state;
//   {"kind": "tracker", "events": {"state": ..., "diff": ...} | null,
//    "ops": [{"op": "join_ref", "ref": ...} | {"op": "event", "event": ..., "payload": ...}]}
//     runs a Presence object over a fake channel whose joinRef() we set.
// stdout: {"results": [[step, ...], ...]}, one step per op with the state
// after it, the onJoin / onLeave calls it made (arguments snapshotted), the
// lists, and for trackers the sync count and pending diff count.
import { Presence } from "phoenix"
import { readInput, writeOutput } from "./batch_io.mjs"

const snap = (value) => (value === undefined ? null : JSON.parse(JSON.stringify(value)))

function recorder() {
  const calls = []
  return {
    calls,
    onJoin: (key, current, joined) => calls.push(["join", key, snap(current), snap(joined)]),
    onLeave: (key, current, left) => calls.push(["leave", key, snap(current), snap(left)]),
  }
}

function lists(state) {
  return {
    list: snap(Presence.list(state)),
    chosen: snap(Presence.list(state, (key, presence) => [key, presence.metas.length])),
  }
}

function runStatic(ops) {
  let state = {}
  return ops.map(({ op, payload }) => {
    const rec = recorder()
    if (op === "state") {
      state = Presence.syncState(state, payload, rec.onJoin, rec.onLeave)
    } else {
      state = Presence.syncDiff(state, payload, rec.onJoin, rec.onLeave)
    }
    return { state: snap(state), calls: rec.calls, ...lists(state) }
  })
}

function runTracker(events, ops) {
  const bindings = {}
  const channel = {
    ref: null,
    on(event, callback) {
      ;(bindings[event] ||= []).push(callback)
    },
    joinRef() {
      return this.ref
    },
  }
  const presence = new Presence(channel, events ? { events } : {})
  let rec = recorder()
  let syncs = 0
  presence.onJoin((...args) => rec.onJoin(...args))
  presence.onLeave((...args) => rec.onLeave(...args))
  presence.onSync(() => {
    syncs += 1
  })
  return ops.map((step) => {
    rec = recorder()
    if (step.op === "join_ref") {
      channel.ref = step.ref
    } else {
      for (const callback of bindings[step.event] || []) callback(step.payload)
    }
    return {
      state: snap(presence.state),
      calls: rec.calls,
      syncs,
      pending: presence.pendingDiffs.length,
      ...lists(presence.state),
    }
  })
}

const { cases } = await readInput()
const results = cases.map((c) => (c.kind === "static" ? runStatic(c.ops) : runTracker(c.events, c.ops)))
writeOutput({ results })
