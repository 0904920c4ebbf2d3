/**
 * `npm run example:payment`: an order that waits for its payment event, with
 * a timeout, on the embedded SQLite default. Order 1 is paid (the event is
 * sent by `sendEvent`, here from the same process; in an app, from the
 * payment webhook's handler, through a `WorkflowClient`); order 2 is never
 * paid and is cancelled after its timeout. While they wait, the workflows
 * hold no lease and no concurrency slot.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WorkflowRunner, defineTask, type WaitForEventResult } from "../src/index.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"

const dir = mkdtempSync(join(tmpdir(), "durabletasks-payment-"))

const fulfil = defineTask<{ orderID: string }, string>()({
  Name: "Fulfil",
  Execute: (ctx) => {
    const payment = ctx.getTaskResult("payment") as WaitForEventResult<{ amount: number }>
    if ("timedOut" in payment) {
      console.log(`  ${ctx.data.orderID}: no payment in time; cancelling the order`)
      return { data: "cancelled" }
    }
    console.log(`  ${ctx.data.orderID}: paid ${payment.payload.amount} (event ${payment.eventID} sent ${payment.sentAt}); shipping`)
    return { data: "shipped" }
  },
})

const runner = new WorkflowRunner({ taskRunners: [fulfil], storageProvider: new SQLiteStorageProvider(join(dir, "app.sqlite")) })
try {
  await runner.recover()
  const order = (orderID: string) =>
    runner.addWorkflow({
      workflowID: orderID,
      tasks: {
        // "24h" in an app; 2 s here so the example ends soon.
        payment: { waitForEvent: { name: "payment", key: orderID, timeoutMS: "2s" } },
        fulfil: { task: "Fulfil", data: { orderID } },
      },
    })
  const [paid, unpaid] = await Promise.all([order("order-1"), order("order-2")])
  await new Promise((r) => setTimeout(r, 300))
  console.log(`  order-1 step "payment": ${(await runner.getWorkflow("order-1"))?.tasks[0]?.state}`)
  // The payment provider's webhook: its event ID makes a redelivered webhook harmless.
  const sent = await runner.sendEvent({ name: "payment", key: "order-1", payload: { amount: 42 }, eventID: "psp-evt-9001" })
  console.log(`  sent payment for order-1: created ${sent.created}, woke ${sent.woken} workflow(s)`)
  const again = await runner.sendEvent({ name: "payment", key: "order-1", payload: { amount: 42 }, eventID: "psp-evt-9001" })
  console.log(`  the same webhook delivered again: created ${again.created}`)
  for (const handle of [paid, unpaid]) {
    const done = await handle.result()
    console.log(`  ${done.id}: ${done.status}, fulfil → ${JSON.stringify(done.tasks[1]?.result)}`)
  }
} finally {
  await runner.stop()
  rmSync(dir, { recursive: true, force: true })
}
