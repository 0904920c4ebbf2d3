/**
 * `npm run example:parallel`: fetches three prices at once in one workflow,
 * then picks the cheapest, on the embedded SQLite default. The members run
 * concurrently within the workflow's one execution (one concurrency slot);
 * each keeps its own attempts (the flaky one is retried on its own) and its
 * own result, so after a crash only the members that had not finished run
 * again.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WorkflowRunner, defineTask } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const dir = mkdtempSync(join(tmpdir(), "durabletasks-parallel-"))
let flaky = 0

const fetchPrice = defineTask<{ shop: string }, number>()({
  Name: "FetchPrice",
  retry: { maxAttempts: 3, delayMS: 100 },
  Execute: async (ctx) => {
    await new Promise((r) => setTimeout(r, 300))
    if (ctx.data.shop === "flaky" && flaky++ === 0) throw new Error("503 from flaky")
    return { data: 10 + ctx.data.shop.length }
  },
})
const cheapest = defineTask<null, string>()({
  Name: "Cheapest",
  Execute: async (ctx) => {
    const prices = ctx.getTaskResult("prices") as Record<string, number>
    const [shop, price] = Object.entries(prices).sort((a, b) => a[1] - b[1])[0]!
    return { data: `${shop} at ${price}` }
  },
})

const runner = new WorkflowRunner({ taskRunners: [fetchPrice, cheapest], storageProvider: new SQLiteStorageProvider(join(dir, "app.sqlite")) })
try {
  await runner.recover()
  const started = Date.now()
  const handle = await runner.addWorkflow({
    tasks: {
      prices: {
        parallel: {
          acme: { task: "FetchPrice", data: { shop: "acme" } },
          bigstore: { task: "FetchPrice", data: { shop: "bigstore" } },
          flaky: { task: "FetchPrice", data: { shop: "flaky" } },
        },
      },
      pick: { task: "Cheapest", data: null },
    },
  })
  const done = await handle.result()
  console.log(`  ${done.status} in ${Date.now() - started} ms (three fetches of 300 ms, at once): ${String(done.tasks.at(-1)?.result)}`)
  console.log(`  prices: ${JSON.stringify(done.tasks[0]?.result)}; attempts: ${done.tasks.slice(1, 4).map((m) => `${m.name} ${m.attempts}`).join(", ")}`)
} finally {
  await runner.stop()
  rmSync(dir, { recursive: true, force: true })
}
