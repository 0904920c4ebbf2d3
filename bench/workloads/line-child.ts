/**
 * A bench's child process that reports on stdout, one JSON object per line:
 * spawning it, its `{ ready: true }` line, its exit, and stopping a group of
 * them (`stop` on stdin, then SIGKILL after a grace period).
 *
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process"
import { createInterface } from "node:readline"

/** A child process speaking JSON lines. */
export interface LineChild {
  child: ChildProcess
  /** Resolves on its `{ ready: true }` line; rejects if it exits first. */
  ready: Promise<void>
  /** Its exit code (null when killed by a signal). */
  exited: Promise<number | null>
}

/**
 * Starts `node [nodeArgs] script [args]` and calls `onMessage` with every
 * line it prints (parsed as JSON). `what` names it in the error when it
 * exits before it is ready; the end of its stderr is added.
 */
export function spawnLineChild(
  script: string,
  args: string[],
  onMessage: (message: Record<string, unknown>) => void,
  { nodeArgs = [], what = "bench worker" }: { nodeArgs?: string[]; what?: string } = {},
): LineChild {
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ["pipe", "pipe", "pipe"] })
  let stderr = ""
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-4_000)))
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
  let readyResolve!: () => void
  const ready = new Promise<void>((r) => (readyResolve = r))
  const died = exited.then((code) => {
    throw new Error(`${what} exited (code ${code}): ${stderr}`)
  })
  died.catch(() => {})
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const message = JSON.parse(line) as Record<string, unknown>
    if (message.ready) readyResolve()
    onMessage(message)
  })
  return { child, ready: Promise.race([ready, died]), exited }
}

/** Asks each child to stop (`stop` on stdin), waits up to `graceMS` for all to exit, then kills the rest. */
export async function stopLineChildren(children: Array<Pick<LineChild, "child" | "exited">>, graceMS = 10_000): Promise<void> {
  const running = (c: Pick<LineChild, "child">) => c.child.exitCode === null && c.child.signalCode === null
  for (const c of children) if (running(c)) c.child.stdin!.write("stop\n")
  await Promise.race([Promise.all(children.map((c) => c.exited)), new Promise((r) => setTimeout(r, graceMS))])
  for (const c of children) if (running(c)) c.child.kill("SIGKILL")
  await Promise.all(children.map((c) => c.exited))
}
