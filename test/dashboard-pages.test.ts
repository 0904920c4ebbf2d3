/**
 * What the dashboard's pages show, over real HTTP on SQLite and Postgres:
 * the overview's counts, the list's filters and newest-first keyset paging,
 * jump to ID, a workflow's tasks with their errors and payloads cut short
 * (the whole one a link away), a confirm step before an action, and links
 * that stay under the base path.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import type { DashboardOptions } from "../src/dashboard/index.js"
import { PAGE_SIZE } from "../src/dashboard/pages/list.js"
import { STORES, csrfOf, send, workflowURL, servedOn } from "./helpers/dashboard.js"
import { WorkflowRunner } from "../src/index.js"
import { waitFor } from "./helpers/wait.js"

/** The IDs in a list page's table, top to bottom. */
function listedIDs(body: string): string[] {
  const table = /<table id="workflows">([\s\S]*?)<\/table>/.exec(body)?.[1] ?? ""
  return [...table.matchAll(/<td class="id"><a href="[^"]*">([^<]*)<\/a>/g)].map((m) => (m[1] as string).replace(/&lt;/g, "<").replace(/&gt;/g, ">"))
}

/** The "older" link of a list page, or undefined on the last page. */
function nextLink(body: string): string | undefined {
  return /<a rel="next" href="([^"]+)">/.exec(body)?.[1]?.replace(/&amp;/g, "&")
}

describe("dashboard pages", { timeout: 120_000 }, () => {
  for (const store of STORES) {
    describe(`on ${store.name}`, { skip: store.skip ?? false }, () => {
      const served = (t: { after(fn: () => Promise<void>): void }, options: Omit<DashboardOptions, "storageProvider" | "client"> = {}) =>
        servedOn(store, t, options)

      it("overview: counts by status, failures in the last hour, the oldest pending, charts (per minute too), the latest failures; refreshes itself", async (t) => {
        const d = await served(t)
        const page = await send(d.port, "/")
        assert.equal(page.status, 200)
        const count = (name: string) => /data-count="([^"]+)">(\d+)</g.exec(page.body.slice(page.body.indexOf(`data-count="${name}"`)))?.[2]
        assert.deepEqual(["pending", "completed", "failed", "cancelled", "failed-last-hour"].map(count), ["3", "1", "1", "0", "1"])
        assert.match(page.body, /Oldest pending<\/h2>\n<p><a href="\/workflows\/order-1">order-1<\/a>/)
        assert.match(page.body, /<svg class="chart" role="img" aria-label="completed 1, failed 1, cancelled 0"/)
        assert.match(page.body, /<svg class="chart throughput" role="img" aria-label="1 completed, 1 failed, 0 cancelled in the last 60 minutes"/)
        assert.equal(page.body.match(/<g><title>/g)?.length, 60, "a column per minute")
        assert.match(page.body, /<a href="\/workflows\/order-2">order-2<\/a>/)
        assert.match(page.body, /<body data-refresh="5">/)
      })

      it("list: newest first, filtered by status, runner, ID prefix and creation time", async (t) => {
        const d = await served(t)
        const ids = async (query: string) => listedIDs((await send(d.port, `/workflows${query}`)).body)
        assert.deepEqual(await ids(""), ["evil-<script>alert(1)</script>", "mail-1", "order-3", "order-2", "order-1"])
        assert.deepEqual(await ids("?status=pending"), ["evil-<script>alert(1)</script>", "mail-1", "order-1"])
        assert.deepEqual(await ids("?runner=Charge"), ["order-2", "order-1"])
        assert.deepEqual(await ids("?idPrefix=order-"), ["order-3", "order-2", "order-1"])
        assert.deepEqual(await ids("?createdAfter=15m"), ["evil-<script>alert(1)</script>", "mail-1", "order-3"])
        assert.deepEqual(await ids("?createdBefore=15m&status=pending"), ["order-1"])
        const bad = await send(d.port, "/workflows?createdAfter=yesterday")
        assert.equal(bad.status, 400)
        assert.match(bad.body, /class="problem">created after takes an ISO date/)
      })

      it("list: pages newest first by keyset, the filter kept on every page", async (t) => {
        const d = await served(t)
        const now = Date.now()
        const many = Array.from({ length: PAGE_SIZE * 2 + 3 }, (_, i) => ({
          id: `bulk-${String(i).padStart(3, "0")}`,
          now: now - 60 * 60_000 - (PAGE_SIZE * 3 - i) * 1_000,
          tasks: [{ name: "step", task: "Bulk", data: "null" }],
        }))
        await d.storage.insertWorkflowsAndTasks(many)
        const seen: string[] = []
        let path: string | undefined = "/workflows?runner=Bulk"
        for (let pages = 0; path !== undefined && pages < 10; pages++) {
          const page = await send(d.port, path)
          assert.equal(page.status, 200)
          seen.push(...listedIDs(page.body))
          path = nextLink(page.body)
          if (path !== undefined) assert.match(path, /runner=Bulk/)
        }
        assert.deepEqual(seen, many.map((w) => w.id).reverse())
      })

      it("jump to ID: goes to the workflow's page, and a missing one says so with 404", async (t) => {
        const d = await served(t)
        const jumped = await send(d.port, "/go?id=order-2")
        assert.equal(jumped.status, 303)
        assert.equal(jumped.headers.location, "/workflows/order-2")
        const missing = await send(d.port, "/workflows/no-such")
        assert.equal(missing.status, 404)
        assert.match(missing.body, /No workflow <span class="id">no-such<\/span>/)
      })

      it("workflow page: tasks with status, attempts and error; long payloads cut short with a link to the whole", async (t) => {
        const d = await served(t)
        const failed = await send(d.port, workflowURL("order-2"))
        assert.match(failed.body, /<tr data-seq="0"><td>0<\/td><td>charge<\/td><td>Charge<\/td><td><span class="status status-failed">failed<\/span><\/td><td>3<\/td>/)
        assert.match(failed.body, /<pre class="error">card declined &lt;b&gt;twice&lt;\/b&gt;<\/pre>/)
        assert.match(failed.body, /id="retry-link" href="\/workflows\/order-2\/retry"/)
        assert.doesNotMatch(failed.body, /cancel-link/, "a failed workflow cannot be cancelled")
        assert.match(failed.body, /<body data-refresh="">/, "an ended workflow does not refresh")
        const mail = await send(d.port, workflowURL("mail-1"))
        assert.match(mail.body, /…<\/pre><a href="\/workflows\/mail-1\/tasks\/0\/data">whole data \(\d+ characters\)<\/a>/)
        assert.match(mail.body, /id="cancel-link"/)
        assert.match(mail.body, /<body data-refresh="5">/)
      })

      it("workflow page: a timeline of each task's attempts with start, end, outcome, error and runnerID, oldest first", async (t) => {
        const d = await served(t)
        const failed = await send(d.port, workflowURL("order-2"))
        const rows = [...failed.body.matchAll(/<tr class="attempt" data-seq="(\d+)" data-outcome="(\w+)">([\s\S]*?)<\/tr>/g)]
        assert.deepEqual(
          rows.map((r) => [r[1], r[2]]),
          [
            ["0", "failed"],
            ["0", "interrupted"],
            ["0", "failed"],
          ],
        )
        assert.match(rows[0]![3]!, /<pre class="error">card &lt;i&gt;expired&lt;\/i&gt;<\/pre>/, "an attempt's error is shown, as text")
        assert.match(rows[0]![3]!, /<td>worker-0<\/td>/)
        assert.match(rows[0]![3]!, /<td>1000 ms<\/td>/)
        assert.match(rows[1]![3]!, /<span class="muted">unknown<\/span>/, "an interrupted attempt's start and runner are unknown")
        assert.match(rows[2]![3]!, /<td>worker-1<\/td>/)
        assert.match(rows[2]![3]!, /<pre class="error">card declined &lt;b&gt;twice&lt;\/b&gt;<\/pre>/)
        assert.match(rows[2]![3]!, /<td>1500 ms<\/td>/)
        // The task's own start and end: its first attempt's start, its last attempt's end.
        const task = /<tr data-seq="0">[\s\S]*?<\/tr>/.exec(failed.body)?.[0] ?? ""
        const startedText = /<td class="started">([^<]*)<\/td>/.exec(task)?.[1]
        const endedText = /<td class="ended">([^<]*)<\/td>/.exec(task)?.[1]
        assert.match(startedText ?? "", /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/)
        assert.ok(Date.parse((endedText ?? "").replace(" ", "T")) - Date.parse((startedText ?? "").replace(" ", "T")) >= 8_000, "the task spans its attempts")
        // The chart: one bar per attempt, each titled with what happened.
        const chart = /<svg class="chart timeline"[\s\S]*?<\/svg>/.exec(failed.body)?.[0] ?? ""
        assert.equal([...chart.matchAll(/<rect /g)].length, 3)
        assert.match(chart, /<title>attempt 1: failed, [^<]* on worker-0: card &lt;i&gt;expired&lt;\/i&gt;<\/title>/)
        const completed = await send(d.port, workflowURL("order-3"))
        assert.match(completed.body, /<tr class="attempt" data-seq="0" data-outcome="completed">/)
        const fresh = await send(d.port, workflowURL("order-1"))
        assert.match(fresh.body, /id="timeline-empty"/, "a task no attempt of which has ended has no timeline yet")
      })

      it("workflow page: a step that is not a task shows its kind and what it waits for", async (t) => {
        const d = await served(t)
        const runner = new WorkflowRunner({ taskRunners: [{ Name: "Noop", Execute: () => ({}) }], storageProvider: d.storage, pollIntervalMS: 50 })
        try {
          await runner.recover()
          await runner.addWorkflow({ workflowID: "napper", tasks: { nap: { sleep: "1h" }, after: { task: "Noop", data: null } } })
          await waitFor(async () => (await runner.getWorkflow("napper"))?.tasks[0]?.state.startsWith("sleeping until") === true, { what: "the sleep to park" })
          const page = await send(d.port, "/workflows/napper")
          assert.equal(page.status, 200)
          const row = /<tr data-seq="0">([\s\S]*?)<\/tr>/.exec(page.body)?.[1] ?? ""
          assert.match(row, /<span class="kind">sleep<\/span>/)
          assert.match(row, /<div class="state muted">sleeping until \d{4}-\d\d-\d\dT/)
          const task = /<tr data-seq="1">([\s\S]*?)<\/tr>/.exec(page.body)?.[1] ?? ""
          assert.match(task, /<td>Noop<\/td>/)
          assert.doesNotMatch(task, /class="state/)
        } finally {
          await runner.stop()
        }
      })

      it("confirm step: the action is a form POST with the CSRF token; an action that does not apply is refused with 409", async (t) => {
        const d = await served(t)
        const confirm = await send(d.port, workflowURL("order-1", "/cancel"))
        assert.match(confirm.body, /<form method="post" action="\/workflows\/order-1\/cancel">/)
        const notFailed = await send(d.port, workflowURL("order-1", "/retry"))
        assert.equal(notFailed.status, 409)
        const posted = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", origin: `http://127.0.0.1:${d.port}`, form: { csrf: csrfOf(confirm) } })
        assert.equal(posted.status, 303)
        assert.equal((await d.storage.getWorkflow("order-1"))?.workflow.status, "cancelled")
        // The same form sent again (a double click): nothing left to cancel, and the page says so.
        const again = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", origin: `http://127.0.0.1:${d.port}`, form: { csrf: csrfOf(confirm) } })
        assert.equal(again.headers.location, "/workflows/order-1?done=stale")
      })

      it("under a base path: every link, form and asset stays under it; requests with the prefix stripped (Express) work too", async (t) => {
        const d = await served(t, { basePath: "/admin/jobs/" })
        const page = await send(d.port, "/admin/jobs/workflows")
        assert.equal(page.status, 200)
        for (const [, url] of page.body.matchAll(/(?:href|src|action)="([^"]+)"/g)) assert.match(url as string, /^\/admin\/jobs\//)
        assert.equal((await send(d.port, "/admin/jobs/assets/dashboard.css")).headers["content-type"], "text/css; charset=utf-8")
        assert.equal((await send(d.port, "/admin/jobs")).status, 200)
        assert.deepEqual(listedIDs((await send(d.port, "/workflows?idPrefix=order-")).body), ["order-3", "order-2", "order-1"])
      })
    })
  }
})
