/**
 * The `durabletasks` CLI, run as a real child process (the built
 * `dist/cli.js`) on SQLite and Postgres: each command, its `--json` output,
 * its exit codes (0 ok, 1 failure, 2 usage), and usage errors.
 */
import assert from "node:assert/strict"
import { execFile } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import type { StorageProvider } from "../src/storage/provider.js"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { WorkflowClient } from "../src/client.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"
import { endedWrite, SEED_LEASE, seedTask } from "./helpers/seed.js"

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url))
const MINUTE = 60_000
/** How long one CLI run may take before the test fails. */
const RUN_LIMIT_MS = 20_000

interface Run {
  code: number
  stdout: string
  stderr: string
}

/** Runs the CLI with `args`, stdin not a terminal, none of the store variables set unless `env` sets them. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { timeout: RUN_LIMIT_MS, env: { ...process.env, DURABLETASKS_SQLITE: "", DURABLETASKS_POSTGRES: "", ...env } },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== "number") {
          reject(new Error(`durabletasks ${args.join(" ")} did not exit within ${RUN_LIMIT_MS} ms (${error.message}); stderr: ${stderr}`))
        } else resolve({ code: error ? (error.code as number) : 0, stdout, stderr })
      },
    )
  })
}

function jsonLines(run: Run): Array<Record<string, unknown>> {
  return run.stdout
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}

function ids(run: Run): unknown[] {
  assert.equal(run.code, 0, run.stderr)
  return jsonLines(run).map((w) => w.id)
}

/** A store the CLI opens: its command-line arguments, and a provider on it for seeding and checking. */
interface CLIStore {
  args: string[]
  storage: StorageProvider
  cleanup(): Promise<void>
}

const postgresReason = await postgresSkipReason()

const STORES: Array<{ name: string; skip?: string; open(): Promise<CLIStore> }> = [
  {
    name: "sqlite",
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "dt-cli-"))
      const file = join(dir, "store.sqlite")
      const storage = new SQLiteStorageProvider(file)
      return {
        args: ["--sqlite", file],
        storage,
        async cleanup() {
          await storage.close()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: "postgres",
    ...(postgresReason === undefined ? {} : { skip: postgresReason }),
    async open() {
      const schema = uniqueSchemaName()
      const storage = new PostgresStorageProvider(connectionString, { schema })
      await storage.init()
      return {
        args: ["--postgres", connectionString, "--schema", schema],
        storage,
        async cleanup() {
          await storage.close()
          await dropSchema(schema)
        },
      }
    },
  },
]

/**
 * Six workflows, newest first: invoice-3 (failed a minute ago), invoice-2
 * (cancelled), invoice-1 (pending, a payload with markup), order-3
 * (completed 50 minutes ago), order-2 (failed 2 hours ago, 3 attempts),
 * order-1 (pending, the oldest).
 */
async function seed(storage: StorageProvider, now: number): Promise<void> {
  await storage.insertWorkflowsAndTasks([
    { id: "order-1", now: now - 180 * MINUTE, tasks: [seedTask("Charge", { amount: 5 })] },
    { id: "order-2", now: now - 120 * MINUTE, tasks: [seedTask("Charge", { amount: 7 }), seedTask("Ship")], lease: SEED_LEASE },
    { id: "order-3", now: now - 60 * MINUTE, tasks: [seedTask("Ship")], lease: SEED_LEASE },
    { id: "invoice-1", now: now - 10 * MINUTE, tasks: [seedTask("Mail", { html: "<script>alert(1)</script>" })] },
    { id: "invoice-2", now: now - 5 * MINUTE, tasks: [seedTask("Mail")] },
    { id: "invoice-3", now: now - 3 * MINUTE, tasks: [seedTask("Mail")], lease: SEED_LEASE },
  ])
  const applied = await storage.applyWorkflowWrites([
    endedWrite("order-2", now - 119 * MINUTE, "failed", "card declined"),
    endedWrite("order-3", now - 50 * MINUTE, "completed", null),
    endedWrite("invoice-3", now - MINUTE, "failed", "smtp timeout"),
  ])
  assert.deepEqual(applied, [true, true, true])
  assert.equal(await storage.cancelWorkflow("invoice-2", now - 4 * MINUTE), true)
}

const NEWEST_FIRST = ["invoice-3", "invoice-2", "invoice-1", "order-3", "order-2", "order-1"]

describe("durabletasks CLI", { timeout: 120_000 }, () => {
  it("is built (run npm run build first)", () => {
    assert.ok(existsSync(CLI), `${CLI} is missing: run npm run build`)
  })

  for (const store of STORES) {
    describe(`on ${store.name}`, { skip: store.skip ?? false }, () => {
      /** A fresh, seeded store for one test, removed after it. */
      async function seeded(t: { after(fn: () => Promise<void>): void }): Promise<CLIStore> {
        const opened = await store.open()
        t.after(() => opened.cleanup())
        await seed(opened.storage, Date.now())
        return opened
      }

      it("list: newest first, filtered by status, runner, creation time and ID prefix, as JSON Lines", async (t) => {
        const { args } = await seeded(t)
        assert.deepEqual(ids(await cli(["list", ...args, "--json"])), NEWEST_FIRST)
        assert.deepEqual(ids(await cli(["list", ...args, "--json", "--status", "failed"])), ["invoice-3", "order-2"])
        assert.deepEqual(ids(await cli(["list", ...args, "--json", "--runner", "Ship"])), ["order-3", "order-2"])
        assert.deepEqual(ids(await cli(["list", ...args, "--json", "--id-prefix", "order-"])), ["order-3", "order-2", "order-1"])
        assert.deepEqual(ids(await cli(["list", ...args, "--json", "--created-after", "90m"])), ["invoice-3", "invoice-2", "invoice-1", "order-3"])
        assert.deepEqual(ids(await cli(["list", ...args, "--json", "--created-before", "90m", "--runner", "Charge"])), ["order-2", "order-1"])
        assert.deepEqual(ids(await cli(["list", ...args, "--json", "--order", "id", "--status", "pending"])), ["invoice-1", "order-1"])
        const [first] = jsonLines(await cli(["list", ...args, "--json", "--limit", "1"]))
        assert.equal(first?.status, "failed")
        assert.equal(first?.taskCount, 1)
        assert.equal(typeof first?.createdAt, "string")
      })

      it("list: pages with --limit and --after, and tells people how to get the next page", async (t) => {
        const { args } = await seeded(t)
        const pages: unknown[][] = []
        let after: string[] = []
        for (let i = 0; i < 4; i++) {
          const page = ids(await cli(["list", ...args, "--json", "--limit", "4", ...after]))
          pages.push(page)
          if (page.length < 4) break
          after = ["--after", String(page.at(-1))]
        }
        assert.deepEqual(pages, [NEWEST_FIRST.slice(0, 4), NEWEST_FIRST.slice(4)])
        const human = await cli(["list", ...args, "--limit", "2"])
        assert.equal(human.code, 0)
        assert.match(human.stdout, /^ID\s+STATUS\s+TASKS\s+CREATED\s+UPDATED\n/)
        assert.match(human.stdout, /invoice-3\s+failed\s+1/)
        assert.match(human.stderr, /more: add --after invoice-2/)
        const gone = await cli(["list", ...args, "--after", "no-such-workflow"])
        assert.equal(gone.code, 1, "continuing after a workflow that does not exist fails")
        assert.match(gone.stderr, /no workflow with ID "no-such-workflow"/)
      })

      it("show: a workflow's tasks with state, attempts, errors, times and payloads; 1 when there is none", async (t) => {
        const { args } = await seeded(t)
        const run = await cli(["show", "order-2", ...args, "--json"])
        assert.equal(run.code, 0, run.stderr)
        const shown = JSON.parse(run.stdout) as { id: string; status: string; tasks: Array<Record<string, unknown>> }
        assert.equal(shown.status, "failed")
        assert.deepEqual(
          shown.tasks.map((task) => [task.seq, task.name, task.task, task.status, task.attempts, task.error, task.data]),
          [
            [0, "charge", "Charge", "failed", 3, "card declined", { amount: 7 }],
            [1, "ship", "Ship", "pending", 0, null, null],
          ],
        )
        assert.equal(typeof shown.tasks[0]?.updatedAt, "string")
        const attempts = shown.tasks[0]?.attemptHistory as Array<Record<string, unknown>>
        assert.deepEqual(
          attempts.map((a) => [a.outcome, a.error, a.runnerID]),
          [
            ["failed", "card <i>expired</i>", "worker-0"],
            ["interrupted", null, null],
            ["failed", "card declined", "worker-1"],
          ],
        )
        assert.equal(attempts[2]?.startedAt, new Date(Date.parse(attempts[2]?.endedAt as string) - 1_500).toISOString())
        assert.equal(shown.tasks[0]?.startedAt, attempts[0]?.startedAt, "a task starts with its first attempt")
        const human = await cli(["show", "invoice-1", ...args])
        assert.equal(human.code, 0, human.stderr)
        assert.match(human.stdout, /status\s+pending \(queued\)/)
        assert.match(human.stdout, /data\s+\{"html":"<script>alert\(1\)<\/script>"\}/)
        const failed = await cli(["show", "order-2", ...args])
        assert.match(failed.stdout, /#0 charge\s+runner Charge\s+failed\s+attempts 3/)
        assert.match(failed.stdout, /error\s+card declined/)
        assert.match(failed.stdout, /started \S+Z  ended \S+Z/)
        assert.match(failed.stdout, /attempts \(last 20 kept, oldest first\):\n\s+1\. failed\s+\S+ -> \S+ \(1000 ms\)  on worker-0  card <i>expired<\/i>\n\s+2\. interrupted\s+start unknown -> \S+  on unknown runner\n\s+3\. failed\s+\S+ -> \S+ \(1500 ms\)  on worker-1  card declined/)
        const missing = await cli(["show", "nope", ...args, "--json"])
        assert.equal(missing.code, 1)
        assert.equal(missing.stdout, "")
        assert.match(missing.stderr, /no workflow with ID "nope"/)
      })

      it("cancel: cancels pending workflows; 1, with a reason per ID, when any is not pending", async (t) => {
        const { args, storage } = await seeded(t)
        const ok = await cli(["cancel", "invoice-1", "order-1", ...args, "--json"])
        assert.equal(ok.code, 0, ok.stderr)
        assert.deepEqual(jsonLines(ok), [
          { id: "invoice-1", cancelled: true },
          { id: "order-1", cancelled: true },
        ])
        assert.equal((await storage.getWorkflow("invoice-1"))?.workflow.status, "cancelled")
        const mixed = await cli(["cancel", "order-3", "nope", ...args, "--json"])
        assert.equal(mixed.code, 1)
        assert.deepEqual(jsonLines(mixed), [
          { id: "order-3", cancelled: false, status: "completed", reason: "not pending" },
          { id: "nope", cancelled: false, status: null, reason: "not found" },
        ])
        assert.equal((await storage.getWorkflow("order-3"))?.workflow.status, "completed")
        const human = await cli(["cancel", "order-3", ...args])
        assert.equal(human.code, 1)
        assert.match(human.stderr, /order-3: not pending \(it is completed\), left unchanged/)
      })

      it("retry: resumes failed workflows from the failed task; 1 when any is not failed", async (t) => {
        const { args, storage } = await seeded(t)
        const ok = await cli(["retry", "order-2", ...args])
        assert.equal(ok.code, 0, ok.stderr)
        assert.equal(ok.stdout, "retried order-2\n")
        const stored = await storage.getWorkflow("order-2")
        assert.equal(stored?.workflow.status, "pending")
        assert.deepEqual(stored?.tasks.map((task) => [task.status, task.attempts]), [["pending", 0], ["pending", 0]])
        const mixed = await cli(["retry", "invoice-3", "order-1", ...args, "--json"])
        assert.equal(mixed.code, 1)
        assert.deepEqual(jsonLines(mixed), [
          { id: "invoice-3", retried: true },
          { id: "order-1", retried: false, status: "pending", reason: "not failed" },
        ])
      })

      it("purge: counts with --dry-run, refuses without --yes off a terminal, deletes by age and status, never pending", async (t) => {
        const { args, storage } = await seeded(t)
        const dry = await cli(["purge", "--older-than", "30m", ...args, "--dry-run", "--json"])
        assert.equal(dry.code, 0, dry.stderr)
        assert.deepEqual(
          (({ dryRun, wouldDelete, statuses }) => ({ dryRun, wouldDelete, statuses }))(JSON.parse(dry.stdout) as Record<string, unknown>),
          { dryRun: true, wouldDelete: 2, statuses: ["completed", "failed", "cancelled"] },
        )
        const refused = await cli(["purge", "--older-than", "30m", ...args])
        assert.equal(refused.code, 2)
        assert.match(refused.stderr, /pass --yes/)
        assert.ok(await storage.getWorkflow("order-2"), "a refused purge deleted something")
        const failedOnly = await cli(["purge", "--older-than", "30m", "--status", "failed", "--yes", ...args, "--json"])
        assert.equal(failedOnly.code, 0, failedOnly.stderr)
        assert.equal((JSON.parse(failedOnly.stdout) as { deleted: number }).deleted, 1)
        assert.equal(await storage.getWorkflow("order-2"), null)
        assert.ok(await storage.getWorkflow("order-3"), "a completed workflow was purged by --status failed")
        const all = await cli(["purge", "--older-than", "1s", "--yes", ...args])
        assert.equal(all.code, 0, all.stderr)
        assert.match(all.stdout, /^deleted 3 completed, failed, cancelled workflows/)
        assert.deepEqual(ids(await cli(["list", ...args, "--json"])), ["invoice-1", "order-1"], "pending workflows are never purged")
      })

      it("stats: counts by status, the oldest pending workflow, failures in the last hour", async (t) => {
        const { args } = await seeded(t)
        const run = await cli(["stats", ...args, "--json"])
        assert.equal(run.code, 0, run.stderr)
        const stats = JSON.parse(run.stdout) as Record<string, unknown>
        assert.deepEqual(stats.counts, { pending: 2, completed: 1, failed: 2, cancelled: 1 })
        assert.equal((stats.oldestPending as { id: string }).id, "order-1")
        assert.deepEqual(stats.endedInWindow, { completed: 1, failed: 1, cancelled: 1 })
        assert.equal(stats.windowMS, 3_600_000)
        const wide = JSON.parse((await cli(["stats", ...args, "--json", "--window", "3h"])).stdout) as { endedInWindow: unknown }
        assert.deepEqual(wide.endedInWindow, { completed: 1, failed: 2, cancelled: 1 })
        const human = await cli(["stats", ...args])
        assert.match(human.stdout, /failed\s+2/)
        assert.match(human.stdout, /oldest pending: order-1/)
        assert.match(human.stdout, /ended in the last 1h: 1 completed, 1 failed, 1 cancelled/)
      })

      it("schedules: lists them, and pauses, resumes, triggers and deletes them by ID, each reported", async (t) => {
        const { args, storage } = await seeded(t)
        const client = new WorkflowClient({ storageProvider: storage })
        await client.schedule({ id: "nightly", cron: "0 3 * * *", timezone: "Europe/Berlin", workflow: { tasks: { report: { task: "Report" } } } })
        await client.schedule({ id: "hourly", cron: "0 * * * *", workflow: { tasks: { sync: { task: "Sync" } } } })
        const listed = jsonLines(await cli(["schedules", ...args, "--json"]))
        assert.deepEqual(listed.map((s) => [s.id, s.cron, s.timezone, s.paused]), [["hourly", "0 * * * *", null, false], ["nightly", "0 3 * * *", "Europe/Berlin", false]])
        assert.equal(typeof listed[0]?.nextFireAt, "string")
        const text = await cli(["schedules", ...args])
        assert.equal(text.code, 0, text.stderr)
        assert.match(text.stdout, /nightly\s+0 3 \* \* \*\s+Europe\/Berlin\s+skip/)

        const paused = await cli(["schedules", "pause", "nightly", "missing", ...args, "--json"])
        assert.equal(paused.code, 1, "one ID could not be paused")
        assert.deepEqual(jsonLines(paused), [{ id: "nightly", paused: true }, { id: "missing", paused: false, reason: "not found" }])
        assert.equal((await client.getSchedule("nightly"))?.paused, true)
        const again = await cli(["schedules", "pause", "nightly", ...args])
        assert.equal(again.code, 0, "pausing a paused schedule is no failure")
        assert.match(again.stdout, /^paused nightly/)
        assert.equal((await cli(["schedules", "resume", "nightly", ...args])).code, 0)
        assert.equal((await client.getSchedule("nightly"))?.paused, false)

        const triggered = await cli(["schedules", "trigger", "hourly", ...args, "--json"])
        assert.equal(triggered.code, 0, triggered.stderr)
        const [fired] = jsonLines(triggered)
        assert.equal(fired?.triggered, true)
        const workflow = await client.getWorkflow(String(fired?.workflowID))
        assert.deepEqual(workflow?.tasks.map((x) => x.name), ["sync"], "the schedule's workflow was added")

        assert.equal((await cli(["schedules", "delete", "hourly", ...args])).code, 0)
        assert.equal(await client.getSchedule("hourly"), null)
        assert.ok(await client.getWorkflow(workflow!.id), "the workflows a schedule added stay when it is deleted")
      })

      it("events: send stores an event (idempotent by --id) and wakes its waiters; list shows events in order", async (t) => {
        const { args, storage } = await seeded(t)
        const client = new WorkflowClient({ storageProvider: storage })
        const waiting = await client.addWorkflow({ workflowID: "awaiting-payment", tasks: { paid: { waitForEvent: { name: "payment", key: "o-9" } } } })
        // No runner here: park the wait by hand as a runner would (storage-level), so the send has a waiter to wake.
        const events = storage.events!
        await storage.claimWorkflows({ lease: { owner: "cli-test", token: "tok", expiresAt: Date.now() + 60_000 }, now: Date.now() + 1, limit: 100, reclaimOwn: false })
        assert.equal(await events.parkForEvent({ workflowID: waiting.id, token: "tok", now: Date.now(), counts: { recoveries: 0, crashes: 0 }, seq: 0, attempts: 0, wakeAt: 8.64e15 }), "parked")
        const sent = await cli(["events", "send", "payment", "--key", "o-9", "--payload", '{"amount":5}', "--id", "psp-1", ...args, "--json"])
        assert.equal(sent.code, 0, sent.stderr)
        const report = JSON.parse(sent.stdout) as { created: boolean; woken: number; eventID: string }
        assert.deepEqual([report.created, report.woken, report.eventID], [true, 1, "psp-1"])
        const again = await cli(["events", "send", "payment", "--key", "o-9", "--id", "psp-1", ...args])
        assert.equal(again.code, 0, again.stderr)
        assert.match(again.stdout, /event ID psp-1 was sent already/)
        await cli(["events", "send", "shipped", ...args])
        const listed = jsonLines(await cli(["events", ...args, "--json"]))
        assert.deepEqual(listed.map((e) => [e.name, e.key, e.payload]), [["payment", "o-9", { amount: 5 }], ["shipped", null, null]])
        assert.deepEqual(jsonLines(await cli(["events", "list", "--name", "payment", ...args, "--json"])).map((e) => e.eventID), ["psp-1"])
        const text = await cli(["events", ...args])
        assert.match(text.stdout, /payment\s+o-9\s+\S+\s+psp-1\s+\{"amount":5\}/)
        assert.equal((await cli(["events", "send", "x", "--payload", "not json", ...args])).code, 2)
      })

      it("finds the store in DURABLETASKS_SQLITE / DURABLETASKS_POSTGRES", async (t) => {
        const { args } = await seeded(t)
        const env: Record<string, string> = args[0] === "--sqlite" ? { DURABLETASKS_SQLITE: args[1] as string } : { DURABLETASKS_POSTGRES: args[1] as string }
        assert.deepEqual(ids(await cli(["list", "--json", "--limit", "1", ...args.slice(2)], env)), ["invoice-3"])
      })
    })
  }

  describe("usage", () => {
    const sqlite = ["--sqlite", ":memory:"]
    const usageErrors: Array<[string, string[], RegExp]> = [
      ["no command", [], /Usage: durabletasks <command>/],
      ["an unknown command", ["frobnicate", ...sqlite], /unknown command "frobnicate"/],
      ["an unknown option", ["list", "--bogus", ...sqlite], /Unknown option '--bogus'/],
      ["an option without its value", ["list", ...sqlite, "--limit"], /--limit/],
      ["a bad status", ["list", "--status", "done", ...sqlite], /--status takes one of pending, completed, failed, cancelled/],
      ["a bad limit", ["list", "--limit", "0", ...sqlite], /--limit takes a whole number from 1 to 1000/],
      ["a bad time", ["list", "--created-after", "yesterday", ...sqlite], /--created-after takes an ISO date/],
      ["a bad order", ["list", "--order", "oldest", ...sqlite], /--order takes newest or id/],
      ["arguments to list", ["list", "extra", ...sqlite], /list takes no arguments/],
      ["show without an ID", ["show", ...sqlite], /show takes exactly one workflow ID/],
      ["cancel without an ID", ["cancel", ...sqlite], /cancel needs at least one workflow ID/],
      ["purge without --older-than", ["purge", "--yes", ...sqlite], /purge needs --older-than/],
      ["purge of pending workflows", ["purge", "--older-than", "1d", "--status", "pending", ...sqlite], /pending workflows are never purged/],
      ["a bad duration", ["purge", "--older-than", "7 days", ...sqlite], /--older-than takes a duration/],
      ["no store", ["list"], /give --sqlite PATH or --postgres URL/],
      ["two stores", ["list", "--sqlite", "x", "--postgres", "postgres://h/db"], /not both/],
      ["--schema with SQLite", ["list", ...sqlite, "--schema", "jobs"], /--schema is for Postgres/],
      ["an invalid SQLite --table-prefix", ["list", "--table-prefix", "x;drop", ...sqlite], /durabletasks list: --table-prefix "x;drop" is invalid: use letters/],
      ["an invalid SQLite --table-prefix, before the file is looked for", ["list", "--table-prefix", "x;drop", "--sqlite", "no-such.sqlite"], /--table-prefix "x;drop" is invalid/],
      ["an invalid Postgres --table-prefix", ["list", "--table-prefix", "X;drop", "--postgres", "postgres://127.0.0.1:1/none"], /--table-prefix "X;drop" is invalid: use lower-case/],
      ["an invalid --schema", ["stats", "--schema", "jobs;drop", "--postgres", "postgres://127.0.0.1:1/none"], /durabletasks stats: --schema "jobs;drop" is invalid/],
      ["an unknown schedules action", ["schedules", "stop", "x", ...sqlite], /schedules takes pause, resume, trigger or delete, got "stop"/],
      ["schedules pause without an ID", ["schedules", "pause", ...sqlite], /schedules pause needs at least one/],
      ["--limit with a schedules action", ["schedules", "pause", "x", "--limit", "5", ...sqlite], /--limit and --after are for listing/],
      ["an unknown events action", ["events", "drop", ...sqlite], /events takes list or send, got "drop"/],
      ["events send without a name", ["events", "send", ...sqlite], /events send takes one event NAME/],
      ["events send with a bad payload", ["events", "send", "n", "--payload", "{", ...sqlite], /--payload must be JSON/],
      ["events list --key without --name", ["events", "--key", "k", ...sqlite], /--key needs --name/],
    ]
    for (const [what, args, message] of usageErrors) {
      it(`exits with 2 and a usage error on stderr for ${what}`, async () => {
        const run = await cli(args)
        assert.equal(run.code, 2, `exit code of durabletasks ${args.join(" ")}; stderr: ${run.stderr}`)
        assert.equal(run.stdout, "")
        assert.match(run.stderr, message)
      })
    }

    it("prints each command's help with --help, and exits with 0", async () => {
      for (const command of ["list", "show", "cancel", "retry", "purge", "stats", "schedules"]) {
        const run = await cli([command, "--help"])
        assert.equal(run.code, 0, run.stderr)
        assert.match(run.stdout, new RegExp(`^Usage: durabletasks ${command}`))
        assert.match(run.stdout, /--sqlite PATH/)
      }
      const main = await cli(["--help"])
      assert.equal(main.code, 0)
      assert.match(main.stdout, /Commands:\n\s+list/)
    })

    it("exits with 1 for a SQLite file that does not exist, creating none", async (t) => {
      const dir = mkdtempSync(join(tmpdir(), "dt-cli-"))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const file = join(dir, "typo.sqlite")
      const run = await cli(["stats", "--sqlite", file])
      assert.equal(run.code, 1)
      assert.match(run.stderr, /no SQLite database at/)
      assert.equal(existsSync(file), false)
    })

    it("exits with 1 when Postgres cannot be reached", async () => {
      const run = await cli(["stats", "--postgres", "postgres://postgres@127.0.0.1:1/none"])
      assert.equal(run.code, 1)
      assert.match(run.stderr, /durabletasks stats: .*ECONNREFUSED|connect/)
    })
  })
})
