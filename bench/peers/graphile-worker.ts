/**
 * graphile-worker in the peers bench, with the settings its performance page
 * documents for throughput: concurrency 24, a local queue of 500 jobs, and
 * completions and failures batched with a delay of 0.
 *
 * @module
 */
import { importPeer, peerVersion, type PeerContext, type PeerSystem, type PeerWorker } from "./system.js"

/** The part of graphile-worker's API the bench uses. */
interface Graphile {
  run(options: Record<string, unknown>): Promise<{ stop(): Promise<void>; addJob(task: string, payload: unknown): Promise<unknown> }>
  runMigrations(options: Record<string, unknown>): Promise<void>
  makeWorkerUtils(options: Record<string, unknown>): Promise<{
    addJobs(specs: Array<{ identifier: string; payload: unknown }>): Promise<unknown>
    release(): Promise<void>
  }>
}

const quietLogger = async () => {
  const { Logger } = await importPeer<{ Logger: new (factory: () => (level: string, message: string) => void) => unknown }>("graphile-worker")
  return new Logger(() => (level: string, message: string) => {
    if (level === "error") process.stderr.write(`graphile-worker: ${message}\n`)
  })
}

export const graphileWorker: PeerSystem = {
  name: "graphile-worker",
  version: () => peerVersion("graphile-worker"),
  settings: "concurrency 24, localQueue.size 500, completeJobBatchDelay 0, failJobBatchDelay 0 (its documented fast settings); pool of 10 (default)",
  remainingSQL: "SELECT count(*)::int AS n FROM graphile_worker._private_jobs",

  async install(connectionString) {
    const g = await importPeer<Graphile>("graphile-worker")
    await g.runMigrations({ connectionString, logger: await quietLogger() })
  },

  async preload(connectionString, count) {
    const g = await importPeer<Graphile>("graphile-worker")
    const utils = await g.makeWorkerUtils({ connectionString, logger: await quietLogger() })
    try {
      for (let i = 0; i < count; i += 5_000) {
        const specs = Array.from({ length: Math.min(5_000, count - i) }, (_, k) => ({ identifier: "noop", payload: { id: `pre-${i + k}` } }))
        await utils.addJobs(specs)
      }
    } finally {
      await utils.release()
    }
  },

  async start(context: PeerContext): Promise<PeerWorker> {
    const g = await importPeer<Graphile>("graphile-worker")
    const runner = await g.run({
      connectionString: context.connectionString,
      concurrency: 24,
      noHandleSignals: true,
      pollInterval: 1_000,
      logger: await quietLogger(),
      taskList: {
        noop: async (payload: { id: string }) => {
          context.onJobStart(payload.id)
        },
      },
      preset: { worker: { localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
    })
    return {
      async add(prefix, count) {
        await Promise.all(Array.from({ length: count }, (_, i) => runner.addJob("noop", { id: `${prefix}${i}` })))
      },
      stop: () => runner.stop(),
    }
  },
}
