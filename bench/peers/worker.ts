/**
 * A child process of the peers bench: one worker of one system.
 *
 * `node worker.js SYSTEM '<json options>'`. Prints `{"ready":true}` once its
 * modules are loaded. Then, on a line from stdin:
 * - `go`: starts the worker (it begins on stored jobs at once), and adds
 *   `options.add` jobs if set; prints `{"started":n,"lastAt":t}` every 20 ms
 *   while the count of handler starts changes;
 * - `latency N`: starts the worker, waits for it to idle, then N times (or
 *   for 30 s, whichever ends first: a polling system takes its poll interval
 *   per sample) adds one job and waits for its handler to start; prints
 *   `{"latencyMS":[…]}`;
 * - `prepare N`: installs the system's tables and stores N jobs (untimed),
 *   prints `{"prepared":true}` (a process of its own, as some systems are
 *   process-wide singletons);
 * - `stop`: stops the worker, prints `{"stopped":true,"cpuMS":…}` and exits.
 *
 * @module
 */
import { createInterface } from "node:readline"
import { loadSystem } from "./systems.js"
import type { PeerWorker } from "./system.js"

interface Options {
  connectionString: string
  processName: string
  /** Jobs this process adds on `go` (ids `<processName>-<i>`). */
  add?: number
}

const [systemName, optionsJSON] = process.argv.slice(2)
const o = JSON.parse(optionsJSON ?? "{}") as Options
const system = await loadSystem(systemName ?? "")
const say = (message: object) => process.stdout.write(JSON.stringify(message) + "\n")
const epochMS = () => performance.timeOrigin + performance.now()

let started = 0
let lastAt = 0
let waiting: { id: string; resolve: (at: number) => void } | undefined
const onJobStart = (id: string) => {
  started++
  lastAt = epochMS()
  if (waiting?.id === id) waiting.resolve(lastAt)
}

let worker: PeerWorker | undefined
let reporter: NodeJS.Timeout | undefined
const cpuBefore = process.cpuUsage()
say({ ready: true })

for await (const line of createInterface({ input: process.stdin })) {
  const [command, arg] = line.split(" ")
  if (command === "prepare") {
    await system.install(o.connectionString)
    if (Number(arg) > 0) await system.preload(o.connectionString, Number(arg))
    say({ prepared: true })
  } else if (command === "go") {
    let reported = -1
    reporter = setInterval(() => {
      if (started === reported) return
      reported = started
      say({ started, lastAt })
    }, 20)
    worker = await system.start({ connectionString: o.connectionString, processName: o.processName, onJobStart })
    if (o.add) void worker.add(`${o.processName}-`, o.add).catch((error: unknown) => say({ error: String(error) }))
  } else if (command === "latency") {
    worker = await system.start({ connectionString: o.connectionString, processName: o.processName, onJobStart })
    await new Promise((r) => setTimeout(r, 500))
    const latencyMS: number[] = []
    const until = epochMS() + 30_000
    for (let i = 0; i < Number(arg) && epochMS() < until; i++) {
      const id = `lat-${i}-`
      const jobStarted = new Promise<number>((resolve) => (waiting = { id: `${id}0`, resolve }))
      const t0 = epochMS()
      await Promise.all([worker.add(id, 1), jobStarted])
      latencyMS.push((await jobStarted) - t0)
      waiting = undefined
    }
    say({ latencyMS })
  } else if (command === "stop") {
    clearInterval(reporter)
    const cpu = process.cpuUsage(cpuBefore)
    await worker?.stop()
    say({ started, lastAt })
    say({ stopped: true, cpuMS: (cpu.user + cpu.system) / 1000 })
    process.exit(0)
  }
}
