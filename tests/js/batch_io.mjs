// Shared plumbing of the batch check scripts run by tests/node.py:
// one JSON document in on stdin, one JSON document out on stdout.

// Read all of stdin and parse it as JSON.
export async function readInput() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  return JSON.parse(Buffer.concat(chunks).toString("utf8"))
}

// Wrap fn so a throw becomes {error: message} (phoenix.js throws are results to compare).
export const attempt = (fn) => (item) => {
  try {
    return fn(item)
  } catch (err) {
    return { error: String(err && err.message) }
  }
}

// Write the answer; with exit, end the process once it is flushed (timers left
// behind by phoenix.js would otherwise keep node alive; a pipe write is async).
export function writeOutput(result, { exit = false } = {}) {
  const text = JSON.stringify(result)
  if (exit) process.stdout.write(text, () => process.exit(0))
  else process.stdout.write(text)
}
