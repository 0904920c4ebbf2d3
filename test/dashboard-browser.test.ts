/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by
 * `playwright-core` pinned to the release built for its major), over a
 * SQLite store and a Postgres one that a real WorkflowRunner executes: open
 * the overview, filter the list, page, open a failed workflow, read its error
 * and the timeline of its attempts, retry it and see it complete, cancel a
 * running one; and in the browser, a POST without the CSRF token gets 403 and
 * the Content-Security-Policy reports nothing blocked.
 *
 * With `DURABLETASKS_SCREENSHOTS=1`, the SQLite run saves the README's
 * screenshots to docs/ (otherwise it writes nothing there, so a test run
 * leaves the work tree as it was).
 *
 * Skips with a message when /usr/bin/chromium (or DURABLETASKS_TEST_CHROMIUM)
 * is missing, and the Postgres run when Postgres does not answer, except
 * under `CI=true`, where either fails: CI installs and starts both (.ci/run).
 */
import assert from "node:assert/strict"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { chromium, type BrowserContext, type Page } from "playwright-core"
import { ExpectedError, WorkflowRunner } from "../src/index.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { serveDashboard } from "./helpers/dashboard.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { PAGE_SIZE } from "../src/dashboard/pages/list.js"

/** Debian's Chromium; `DURABLETASKS_TEST_CHROMIUM` points elsewhere. */
const CHROMIUM = process.env.DURABLETASKS_TEST_CHROMIUM ?? "/usr/bin/chromium"
const DOCS = fileURLToPath(new URL("../../docs/", import.meta.url))
/** The longest any one wait in the browser may take. */
const WAIT_MS = 20_000

function chromiumSkipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined
  const message = `${CHROMIUM} is missing (apt-get install -y chromium)`
  if (process.env.CI === "true") throw new Error(`${message}; CI=true, so the browser tests fail instead of skipping`)
  return `${message}: skipping the browser tests`
}

/** Polls `check` until it holds, for at most `WAIT_MS`. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + WAIT_MS
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${WAIT_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const skip = chromiumSkipReason()
/** Screenshots for the README are written only when asked for. */
const SCREENSHOTS = process.env.DURABLETASKS_SCREENSHOTS === "1"
const postgresReason = await postgresSkipReason()

/** The stores the browser test runs on: a fresh one for each run, removed after it. */
const STORES: Array<{ name: string; skip?: string; open(t: { after(fn: () => unknown): void }): StorageProvider }> = [
  {
    name: "SQLite",
    open(t) {
      const dir = mkdtempSync(join(tmpdir(), "dt-browser-"))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      return new SQLiteStorageProvider(join(dir, "store.sqlite"))
    },
  },
  {
    name: "Postgres",
    ...(postgresReason === undefined ? {} : { skip: postgresReason }),
    open(t) {
      const schema = uniqueSchemaName()
      t.after(() => dropSchema(schema))
      return new PostgresStorageProvider(connectionString, { schema })
    },
  },
]

describe("dashboard in a real browser", { timeout: 180_000, ...(skip === undefined ? {} : { skip }) }, () => {
  for (const store of STORES) {
  it(`${store.name}: overview, filter, page, read a failure and its attempts, retry it to completion, cancel a running one; CSRF and CSP hold`, { ...(store.skip === undefined ? {} : { skip: store.skip }) }, async (t) => {
    // Clean-ups run last first, in one hook: the browser, the dashboard and the runner stop before the store goes.
    const cleanups: Array<() => unknown> = []
    t.after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup()
    })
    const after = (fn: () => unknown) => void cleanups.push(fn)
    const storage = store.open({ after })
    const screenshots = SCREENSHOTS && store.name === "SQLite"
    let chargeWorks = false
    let holdCancelled = false
    const runner = new WorkflowRunner({
      storageProvider: storage,
      runnerID: "worker-1",
      pollIntervalMS: 100,
      retryDelayMS: 100,
      taskRunners: [
        { Name: "Bulk", Execute: async () => ({ data: { ok: true } }) },
        {
          Name: "Charge",
          // Two timeouts the runner retries, then a refusal that fails the workflow: three attempts on its timeline.
          Execute: async (ctx) => {
            if (chargeWorks) return { data: { charged: 42 } }
            if (ctx.attempt < 2) throw new Error(`gateway timeout after 30 s (try ${ctx.attempt + 1})`)
            throw new ExpectedError("card declined by the bank <script>alert(1)</script>", "workflow")
          },
        },
        {
          Name: "Hold",
          Execute: (ctx) =>
            new Promise((resolve) => {
              ctx.signal.addEventListener("abort", () => {
                holdCancelled = true
                resolve({ data: null })
              })
            }),
        },
      ],
    })
    after(() => runner.stop({ timeoutMS: 2_000, closeStorage: true }))
    await runner.recover()
    for (let i = 0; i < PAGE_SIZE + 5; i++) await runner.addWorkflow({ workflowID: `bulk-${String(i).padStart(2, "0")}`, tasks: { step: { task: "Bulk" } } })
    await runner.addWorkflow({ workflowID: "pay-1", tasks: { charge: { task: "Charge", data: { amount: 42, note: "<b>rush</b>" } }, receipt: { task: "Bulk" } } })
    await runner.addWorkflow({ workflowID: "hold-1", tasks: { hold: { task: "Hold" } } })
    await until("pay-1 failed", async () => (await runner.getWorkflow("pay-1"))?.status === "failed")
    await until("hold-1 running", async () => (await runner.getWorkflow("hold-1"))?.state === "running")
    await until("the bulk workflows completed", async () => (await runner.listWorkflows({ status: "completed", limit: 100 })).length === PAGE_SIZE + 5)

    const dashboard = await serveDashboard({ storageProvider: storage })
    after(() => dashboard.close())
    const base = `http://127.0.0.1:${dashboard.port}`

    const profile = mkdtempSync(join(tmpdir(), "dt-chromium-"))
    after(() => rmSync(profile, { recursive: true, force: true }))
    // A persistent context on a fresh, empty profile directory: the machine notes' --user-data-dir, passed the way Playwright wants it.
    const browser: BrowserContext = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      timeout: WAIT_MS,
      headless: true,
      viewport: { width: 1280, height: 900 },
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    })
    after(() => browser.close())
    const page: Page = browser.pages()[0] ?? (await browser.newPage())
    page.setDefaultTimeout(WAIT_MS)
    const problems: string[] = []
    page.on("console", (message) => {
      if (message.type() === "error") problems.push(message.text())
    })
    page.on("pageerror", (error) => problems.push(error.message))

    // Overview: counts, the failure of the last hour, the chart.
    await page.goto(`${base}/`)
    assert.equal(await page.textContent('[data-count="completed"]'), String(PAGE_SIZE + 5))
    assert.equal(await page.textContent('[data-count="failed"]'), "1")
    assert.equal(await page.textContent('[data-count="pending"]'), "1")
    assert.equal(await page.textContent('[data-count="failed-last-hour"]'), "1")
    assert.equal(await page.locator("svg.chart").count(), 3)
    assert.ok((await page.locator("svg.throughput rect.bar-completed").count()) >= 1, "this minute's ends are drawn")
    if (screenshots) await page.screenshot({ path: join(DOCS, "dashboard-overview.png"), fullPage: true })

    // The list, filtered to completed, a page at a time.
    await page.click('header a[href="/workflows"]')
    await page.selectOption('select[name="status"]', "completed")
    await page.click("form.filters button")
    await page.waitForURL(/status=completed/)
    const firstPage = await page.locator("#workflows td.id").allTextContents()
    assert.equal(firstPage.length, PAGE_SIZE)
    assert.equal(firstPage[0], `bulk-${String(PAGE_SIZE + 4).padStart(2, "0")}`, "newest first")
    await page.click('a[rel="next"]')
    await page.waitForURL(/after=/)
    const secondPage = await page.locator("#workflows td.id").allTextContents()
    assert.deepEqual(secondPage, ["bulk-04", "bulk-03", "bulk-02", "bulk-01", "bulk-00"])
    assert.equal(await page.locator('a[rel="next"]').count(), 0)

    // The failed workflow: its error, shown as text; then retry through the confirm step.
    await page.goto(`${base}/workflows?status=failed`)
    await page.click("text=pay-1")
    await page.waitForURL(/\/workflows\/pay-1$/)
    assert.match((await page.textContent("#tasks pre.error")) ?? "", /card declined by the bank <script>alert\(1\)<\/script>/)
    assert.equal(await page.locator("script:not([src])").count(), 0, "the stored markup did not become a script")
    // Its timeline: three attempts on worker-1, the two timeouts and the refusal, oldest first.
    const attempts = page.locator("#attempts tr.attempt")
    assert.deepEqual(await attempts.evaluateAll((rows) => rows.map((r) => r.getAttribute("data-outcome"))), ["failed", "failed", "failed"])
    assert.match((await attempts.nth(0).textContent()) ?? "", /worker-1[\s\S]*gateway timeout after 30 s \(try 1\)/)
    assert.match((await attempts.nth(2).textContent()) ?? "", /card declined by the bank <script>/)
    assert.equal(await page.locator("svg.timeline rect").count(), 3)
    if (screenshots) await page.screenshot({ path: join(DOCS, "dashboard-workflow.png"), fullPage: true })

    // A POST from the page without the CSRF token is refused.
    const forged = await page.evaluate(async () => (await fetch("/workflows/pay-1/retry", { method: "POST", body: new URLSearchParams({}) })).status)
    assert.equal(forged, 403)

    chargeWorks = true
    await page.click("#retry-link")
    await page.waitForURL(/\/workflows\/pay-1\/retry$/)
    await page.click("#confirm")
    await page.waitForURL(/done=retry/)
    assert.match((await page.textContent(".notice")) ?? "", /Retried/)
    // The page refreshes itself while the workflow is pending, until it shows the end.
    await page.waitForSelector("#workflow-status .status-completed", { timeout: WAIT_MS })
    assert.equal((await runner.getWorkflow("pay-1"))?.status, "completed")

    // Cancel the running one.
    await page.fill('header input[name="id"]', "hold-1")
    await page.click("header form button")
    await page.waitForURL(/\/workflows\/hold-1$/)
    assert.match((await page.textContent("#workflow-status")) ?? "", /pending \(running\)/)
    await page.click("#cancel-link")
    await page.click("#confirm")
    await page.waitForURL(/done=cancel/)
    assert.match((await page.textContent("#workflow-status")) ?? "", /cancelled/)
    await until("the running task was told to stop", async () => holdCancelled)

    assert.deepEqual(problems.filter((p) => !/403/.test(p)), [], "no script errors or CSP violations")
    assert.deepEqual(
      dashboard.logged.filter((l) => l.level === "info").map((l) => [l.fields?.action, l.fields?.workflowID]),
      [["retry", "pay-1"], ["cancel", "hold-1"]],
    )
  })
  }
})
