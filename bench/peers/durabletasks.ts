/**
 * durabletasks in the peers bench: one job is a workflow of one no-op task,
 * on a runner with default options (the burn-down is `recover()` on a fresh
 * runner, as after a deploy).
 *
 * @module
 */
import { WorkflowClient, WorkflowRunner } from "../../src/index.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import type { PeerContext, PeerSystem, PeerWorker } from "./system.js"
import fs from "node:fs"
import path from "node:path"
import { peersDir } from "./system.js"

const input = (id: string) => ({ workflowID: id, tasks: { job: { task: "Noop" as const } } })

export const durabletasks: PeerSystem = {
  name: "durabletasks",
  version: () => (JSON.parse(fs.readFileSync(path.join(peersDir, "..", "..", "package.json"), "utf8")) as { version: string }).version,
  settings: "default options (concurrency 100, pool of 10); workflows of 1 no-op task",
  remainingSQL: "SELECT count(*)::int AS n FROM public.durabletasks_workflows WHERE status = 'pending'",

  async install(connectionString) {
    const storage = new PostgresStorageProvider(connectionString)
    await storage.init()
    await storage.close()
  },

  async preload(connectionString, count) {
    const client = new WorkflowClient({ storageProvider: new PostgresStorageProvider(connectionString) })
    try {
      for (let i = 0; i < count; i += 5_000) {
        const ids = Array.from({ length: Math.min(5_000, count - i) }, (_, k) => `pre-${i + k}`)
        await Promise.all(ids.map((id) => client.addWorkflow(input(id))))
      }
    } finally {
      await client.close()
    }
  },

  async start(context: PeerContext): Promise<PeerWorker> {
    const runner = new WorkflowRunner({
      taskRunners: [
        {
          Name: "Noop",
          Execute: (ctx) => {
            context.onJobStart(ctx.workflowID)
            return {}
          },
        },
      ],
      storageProvider: new PostgresStorageProvider(context.connectionString),
      runnerID: context.processName,
    })
    await runner.recover()
    return {
      async add(prefix, count) {
        await Promise.all(Array.from({ length: count }, (_, i) => runner.addWorkflow(input(`${prefix}${i}`))))
      },
      stop: () => runner.stop({ timeoutMS: 1_000 }),
    }
  },
}
