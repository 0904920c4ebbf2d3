/**
 * DBOS Transact in the peers bench: one job is a workflow of one step
 * (`DBOS.runStep`). Stored work is enqueued on a queue (through `DBOSClient`)
 * and dequeued by each process's queue runner (`workerConcurrency` 100,
 * polling every 50 ms instead of its default 1 s); added work is started
 * directly with `DBOS.startWorkflow`, as DBOS's own benchmarks do. DBOS
 * records the workflow's status, inputs and the step's output, each commit
 * waited for.
 *
 * DBOS is a process-wide singleton: each process launches it once.
 *
 * @module
 */
import { importPeer, peerVersion, type PeerContext, type PeerSystem, type PeerWorker } from "./system.js"

interface DBOSStatic {
  setConfig(config: Record<string, unknown>): void
  launch(): Promise<void>
  shutdown(options?: { workflowCompletionTimeoutMS?: number }): Promise<void>
  registerWorkflow<A extends unknown[], R>(fn: (...args: A) => Promise<R>, config: { name: string }): (...args: A) => Promise<R>
  registerQueue(name: string, options: Record<string, unknown>): Promise<unknown>
  runStep<R>(fn: () => Promise<R>, config: { name: string }): Promise<R>
  startWorkflow<A extends unknown[], R>(fn: (...args: A) => Promise<R>, params: { workflowID: string }): (...args: A) => Promise<unknown>
}
interface DBOSClientStatic {
  create(options: { systemDatabaseUrl: string }): Promise<{
    enqueue(options: { queueName: string; workflowName: string; workflowID: string }, ...args: unknown[]): Promise<unknown>
    destroy(): Promise<void>
  }>
}
interface DBOSModule {
  DBOS: DBOSStatic
  DBOSClient: DBOSClientStatic
}

const QUEUE = "noop"
const WORKFLOW = "job"
const APP = "peersbench"

let onStart: (id: string) => void = () => {}
let job: ((id: string) => Promise<void>) | undefined

/** Launches DBOS in this process on `connectionString`, with the job workflow and the queue registered. */
async function launch(connectionString: string, executorID?: string): Promise<DBOSStatic> {
  const { DBOS } = await importPeer<DBOSModule>("@dbos-inc/dbos-sdk")
  job ??= DBOS.registerWorkflow(
    async (id: string) => {
      await DBOS.runStep(async () => onStart(id), { name: "noop" })
    },
    { name: WORKFLOW },
  )
  DBOS.setConfig({ name: APP, systemDatabaseUrl: connectionString, logLevel: "error", ...(executorID ? { executorID } : {}) })
  await DBOS.launch()
  await DBOS.registerQueue(QUEUE, { workerConcurrency: 100, minPollingIntervalMs: 50, onConflict: "always_update" })
  return DBOS
}

export const dbos: PeerSystem = {
  name: "DBOS",
  version: () => peerVersion("@dbos-inc/dbos-sdk"),
  settings:
    "stored work: a queue with workerConcurrency 100 and minPollingIntervalMs 50 (default 1,000); added work: DBOS.startWorkflow; workflows of 1 step (DBOS.runStep); system database pool default",
  remainingSQL: "SELECT count(*)::int AS n FROM dbos.workflow_status WHERE status IN ('PENDING', 'ENQUEUED')",

  async install(connectionString) {
    const DBOS = await launch(connectionString)
    await DBOS.shutdown()
  },

  async preload(connectionString, count) {
    const { DBOSClient } = await importPeer<DBOSModule>("@dbos-inc/dbos-sdk")
    const client = await DBOSClient.create({ systemDatabaseUrl: connectionString })
    try {
      for (let i = 0; i < count; i += 1_000) {
        const ids = Array.from({ length: Math.min(1_000, count - i) }, (_, k) => `pre-${i + k}`)
        await Promise.all(ids.map((id) => client.enqueue({ queueName: QUEUE, workflowName: WORKFLOW, workflowID: id }, id)))
      }
    } finally {
      await client.destroy()
    }
  },

  async start(context: PeerContext): Promise<PeerWorker> {
    onStart = context.onJobStart
    const DBOS = await launch(context.connectionString, context.processName)
    return {
      async add(prefix, count) {
        await Promise.all(
          Array.from({ length: count }, (_, i) => DBOS.startWorkflow(job!, { workflowID: `${prefix}${i}` })(`${prefix}${i}`)),
        )
      },
      stop: () => DBOS.shutdown({ workflowCompletionTimeoutMS: 5_000 }),
    }
  },
}
