/**
 * The claim and the batch update on Postgres read in proportion to what they
 * claim or write, not to the backlog, in the plans Postgres actually runs for
 * them: custom plans (each connection's first executions of a prepared
 * statement, which see the parameters) and generic ones, on tables without
 * statistics (filled just now, before autovacuum's first `ANALYZE`; the test
 * server runs with autovacuum off).
 *
 * Measured on the statements the provider sends, with `EXPLAIN (ANALYZE,
 * FORMAT JSON)` inside a transaction that is rolled back, just before each
 * statement runs for real.
 */
import assert from "node:assert/strict"
import { after, before, describe, it } from "node:test"
import pg from "pg"
import { PostgresStorageProvider } from "../src/storage/postgres.js"
import type { WorkflowWrite } from "../src/storage/provider.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./helpers/postgres.js"

const skip = await postgresSkipReason()

/** A node of a JSON plan, as far as these checks read it. */
interface PlanNode {
  "Node Type": string
  "Relation Name"?: string
  "Actual Rows"?: number
  "Actual Loops"?: number
  Plans?: PlanNode[]
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)]
}

/** A parameter value as an SQL literal (strings, numbers, booleans, null, and arrays of those). */
function literal(value: unknown): string {
  if (value === null || value === undefined) return "NULL"
  if (typeof value === "number" || typeof value === "boolean") return String(value)
  if (Array.isArray(value)) {
    const items = value.map((v) => (v === null || v === undefined ? "NULL" : `"${String(v).replace(/["\\]/g, "\\$&")}"`))
    return literal(`{${items.join(",")}}`)
  }
  return `'${String(value).replace(/'/g, "''")}'`
}

const SCANS = new Set(["Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Tid Scan"])

/** Rows the plan read from `table` (over all loops), and the scan kinds it used on it. */
function readsOf(plan: PlanNode, table: string): { rows: number; kinds: string[] } {
  const scans = nodes(plan).filter((n) => SCANS.has(n["Node Type"]) && n["Relation Name"] === table)
  return {
    rows: scans.reduce((sum, n) => sum + (n["Actual Rows"] ?? 0) * (n["Actual Loops"] ?? 1), 0),
    kinds: scans.map((n) => n["Node Type"]),
  }
}

describe("Postgres claim and update plans", { skip }, () => {
  const schema = uniqueSchemaName()
  const storage = new PostgresStorageProvider(connectionString, { schema, notifications: false })
  const explainer = new pg.Client({ connectionString })
  const backlog = 5_000
  const batch = 200
  /** Plans captured per statement kind and plan cache mode. */
  const plans = new Map<string, PlanNode>()
  let mode = "force_custom_plan"

  async function explain(kind: string, text: string, values: unknown[]): Promise<void> {
    await explainer.query("BEGIN")
    try {
      await explainer.query(`SET LOCAL plan_cache_mode = ${mode}`)
      await explainer.query(`PREPARE probe AS ${text}`)
      // EXECUTE takes no bind parameters: the values go in as literals.
      const args = values.map(literal).join(", ")
      const { rows } = await explainer.query<{ "QUERY PLAN": Array<{ Plan: PlanNode }> }>(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE probe(${args})`)
      plans.set(`${kind} ${mode}`, rows[0]!["QUERY PLAN"][0]!.Plan)
    } finally {
      await explainer.query("ROLLBACK")
      await explainer.query("DEALLOCATE ALL")
    }
  }

  before(async () => {
    explainer.on("error", () => {})
    await explainer.connect()
    await storage.init()
    for (let i = 0; i < backlog; i += 1_000) {
      await storage.insertWorkflowsAndTasks(
        Array.from({ length: 1_000 }, (_, k) => ({ id: `w-${String(i + k).padStart(5, "0")}`, now: 1_000 + i + k, tasks: [{ name: "t", task: "T", data: "null" }] })),
      )
    }
    // Every statement the provider runs is explained first (then runs for real).
    const db = (storage as unknown as { db: { statement(text: string, values: unknown[], r: unknown): Promise<unknown> } }).db
    const statement = db.statement.bind(db)
    db.statement = async (text, values, r) => {
      const kind = text.includes("WITH picked AS") ? "claim" : text.includes("WITH applied AS") ? "update" : undefined
      if (kind) await explain(kind, text, values)
      return statement(text, values, r)
    }
    for (const m of ["force_custom_plan", "force_generic_plan"]) {
      mode = m
      const token = `token-${m}`
      const now = 1_000_000
      const claimed = await storage.claimWorkflows({ lease: { owner: "plans", token, expiresAt: now + 60_000 }, now, limit: batch, reclaimOwn: false })
      assert.equal(claimed.length, batch)
      const writes: WorkflowWrite[] = claimed.map((c) => ({
        kind: "endWorkflow",
        workflowID: c.workflow.id,
        token,
        now,
        counts: { recoveries: 0, crashes: 0 },
        status: "completed",
        task: { seq: 0, status: "completed", result: "null", error: null, attempts: 1 },
      }))
      assert.ok((await storage.applyWorkflowWrites(writes)).every(Boolean))
    }
  })

  after(async () => {
    await explainer.end().catch(() => {})
    await storage.close()
    await dropSchema(schema)
  })

  for (const m of ["force_custom_plan", "force_generic_plan"]) {
    it(`a claim of ${batch} from a backlog of ${backlog} reads about ${batch} workflows and their tasks by index (${m})`, () => {
      const plan = plans.get(`claim ${m}`)
      assert.ok(plan, "the claim was not captured")
      const workflows = readsOf(plan, "durabletasks_workflows")
      const tasks = readsOf(plan, "durabletasks_tasks")
      assert.ok(!workflows.kinds.includes("Seq Scan") && !tasks.kinds.includes("Seq Scan"), `a sequential scan: ${JSON.stringify({ workflows, tasks })}`)
      // The due scan and the update's probe each read the claimed rows once.
      assert.ok(workflows.rows <= 2 * batch + 10, `read ${workflows.rows} workflow rows for a claim of ${batch}`)
      assert.ok(tasks.rows <= batch, `read ${tasks.rows} task rows for a claim of ${batch}`)
      // The update finds the picked rows where the scan locked them, without probing the primary key again.
      assert.ok(workflows.kinds.includes("Tid Scan"), `the claim's update did not use the picked rows' ctid: ${JSON.stringify(workflows)}`)
    })

    it(`an update of ${batch} reads each batch entry once and probes ${batch} workflows (${m})`, () => {
      const plan = plans.get(`update ${m}`)
      assert.ok(plan, "the update was not captured")
      const workflows = readsOf(plan, "durabletasks_workflows")
      assert.ok(!workflows.kinds.includes("Seq Scan"), `a sequential scan: ${JSON.stringify(workflows)}`)
      assert.ok(workflows.rows <= batch, `read ${workflows.rows} workflow rows for an update of ${batch}`)
      // A function scan of the batch repeated per workflow makes an update quadratic in its batch.
      const unnests = nodes(plan).filter((n) => n["Node Type"] === "Function Scan")
      assert.ok(unnests.length > 0)
      for (const n of unnests) assert.equal(n["Actual Loops"], 1, "the batch's unnest was scanned again for each workflow")
    })
  }
})
