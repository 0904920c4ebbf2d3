/**
 * pg-boss in the peers bench. It has no per-job handler mode: a worker
 * fetches a batch, runs its handler on the batch, completes it in one call,
 * and polls again no sooner than its polling interval (at least 0.5 s) unless
 * the batch took that long. Tuned for throughput: 4 workers per process, each
 * fetching batches of 500, polling every 0.5 s (the minimum).
 *
 * @module
 */
import { importPeer, peerVersion, type PeerContext, type PeerSystem, type PeerWorker } from "./system.js"

interface Boss {
  on(event: "error", listener: (error: unknown) => void): void
  start(): Promise<unknown>
  stop(options?: { graceful?: boolean; wait?: boolean; timeout?: number }): Promise<void>
  createQueue(name: string): Promise<void>
  insert(jobs: Array<{ name: string; data: unknown }>): Promise<void>
  send(name: string, data: object): Promise<string | null>
  work(name: string, options: { batchSize: number; pollingIntervalSeconds: number }, handler: (jobs: Array<{ data: { id: string } }>) => Promise<void>): Promise<string>
}
type BossClass = new (options: Record<string, unknown>) => Boss

const QUEUE = "noop"
const WORKERS = 4
const BATCH = 500

async function boss(connectionString: string, extra: Record<string, unknown> = {}): Promise<Boss> {
  const module = await importPeer<{ default: BossClass }>("pg-boss")
  const b = new module.default({ connectionString, ...extra })
  b.on("error", (error) => process.stderr.write(`pg-boss: ${String(error)}\n`))
  await b.start()
  return b
}

export const pgBoss: PeerSystem = {
  name: "pg-boss",
  version: () => peerVersion("pg-boss"),
  settings: `${WORKERS} work() workers per process, batchSize ${BATCH}, pollingIntervalSeconds 0.5 (its minimum); no maintenance or scheduling in workers; pool of 10 (default)`,
  remainingSQL: `SELECT count(*)::int AS n FROM pgboss.job WHERE name = '${QUEUE}' AND state < 'completed'`,

  async install(connectionString) {
    const b = await boss(connectionString, { supervise: false, schedule: false })
    await b.createQueue(QUEUE)
    await b.stop({ graceful: false, wait: true })
  },

  async preload(connectionString, count) {
    const b = await boss(connectionString, { supervise: false, schedule: false })
    try {
      for (let i = 0; i < count; i += 5_000) {
        await b.insert(Array.from({ length: Math.min(5_000, count - i) }, (_, k) => ({ name: QUEUE, data: { id: `pre-${i + k}` } })))
      }
    } finally {
      await b.stop({ graceful: false, wait: true })
    }
  },

  async start(context: PeerContext): Promise<PeerWorker> {
    const b = await boss(context.connectionString, { supervise: false, schedule: false, migrate: false })
    for (let w = 0; w < WORKERS; w++) {
      await b.work(QUEUE, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async (jobs) => {
        for (const job of jobs) context.onJobStart(job.data.id)
      })
    }
    return {
      async add(prefix, count) {
        await Promise.all(Array.from({ length: count }, (_, i) => b.send(QUEUE, { id: `${prefix}${i}` })))
      },
      stop: () => b.stop({ graceful: true, wait: true, timeout: 5_000 }),
    }
  },
}
