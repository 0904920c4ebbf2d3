/**
 * Workload 3, latency: on an idle, recovered runner, the time from calling
 * addWorkflow to the first task's Execute being called. Samples are taken one
 * at a time: each workflow ends before the next is added.
 */
import { nowMS, percentile } from "../stats.js"
import { benchRunner, workflowInput } from "./common.js"
import type { BenchStoreFactory } from "./storage.js"

export interface LatencyRun {
  p50MS: number
  p99MS: number
  maxMS: number
}

/** A no-op runner that tells when a workflow's first task starts. */
export function firstTaskProbe() {
  let onStart: (() => void) | undefined
  const runner = {
    Name: "Noop",
    Execute: (ctx: { seq: number }) => {
      if (ctx.seq === 0) onStart?.()
      return {}
    },
  } as const
  /** Resolves with the time the next workflow's first task starts. */
  const nextStart = () => new Promise<number>((resolve) => (onStart = () => resolve(nowMS())))
  return { runner, nextStart }
}

/**
 * Recovers `runner`, then adds workflows one at a time (each ends before the
 * next is added) and returns add → first-task-start percentiles. The first 20
 * warm up code paths and connections and are not counted.
 */
export async function sampleAddToStart(
  runner: { recover(): Promise<void>; on(event: "workflowEnded", listener: () => void): unknown; addWorkflow(input: ReturnType<typeof workflowInput>): Promise<unknown> },
  probe: ReturnType<typeof firstTaskProbe>,
  samples: number,
): Promise<LatencyRun> {
  await runner.recover()
  let ended: (() => void) | undefined
  runner.on("workflowEnded", () => ended?.())
  const latencies: number[] = []
  for (let i = -20; i < samples; i++) {
    const started = probe.nextStart()
    const done = new Promise<void>((resolve) => (ended = resolve))
    const t0 = nowMS()
    await runner.addWorkflow(workflowInput(`wf-${i}`))
    const t1 = await started
    await done
    if (i >= 0) latencies.push(t1 - t0)
  }
  return { p50MS: percentile(latencies, 50), p99MS: percentile(latencies, 99), maxMS: Math.max(...latencies) }
}

export async function runLatency(stores: BenchStoreFactory, samples: number): Promise<LatencyRun> {
  const probe = firstTaskProbe()
  const { runner, cleanup } = await benchRunner(stores, { taskRunners: [probe.runner] })
  try {
    return await sampleAddToStart(runner, probe, samples)
  } finally {
    await cleanup()
  }
}
