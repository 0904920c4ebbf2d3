/**
 * Workload 3, latency: on an idle, recovered runner, the time from calling
 * addWorkflow to the first task's Execute being called. Samples are taken one
 * at a time: each workflow ends before the next is added.
 */
import type { Durability } from "../floors.js"
import { nowMS, percentile } from "../stats.js"
import { benchRunner, workflowInput } from "./common.js"

export interface LatencyRun {
  p50MS: number
  p99MS: number
  maxMS: number
}

export async function runLatency(durability: Durability, samples: number): Promise<LatencyRun> {
  let firstTaskStarted: (() => void) | undefined
  const timed = {
    Name: "Noop",
    Execute: (ctx: { seq: number }) => {
      if (ctx.seq === 0) firstTaskStarted?.()
      return {}
    },
  } as const
  const { runner, cleanup } = benchRunner(durability, { taskRunners: [timed] })
  try {
    await runner.recover()
    let ended: (() => void) | undefined
    runner.on("workflowEnded", () => ended?.())
    const latencies: number[] = []
    for (let i = -20; i < samples; i++) {
      // The first 20 warm up the code paths; they are not counted.
      const started = new Promise<number>((resolve) => (firstTaskStarted = () => resolve(nowMS())))
      const done = new Promise<void>((resolve) => (ended = resolve))
      const t0 = nowMS()
      await runner.addWorkflow(workflowInput(`wf-${i}`))
      const t1 = await started
      await done
      if (i >= 0) latencies.push(t1 - t0)
    }
    return { p50MS: percentile(latencies, 50), p99MS: percentile(latencies, 99), maxMS: Math.max(...latencies) }
  } finally {
    await cleanup()
  }
}
