/**
 * The core reads of the SQLite provider: one workflow, many at once, their
 * statuses, and the plain listing in ID order (the filtered listings of the
 * `inspection` capability are in inspection.ts).
 *
 * @module
 */
import type Database from "better-sqlite3"
import type { WorkflowFilter, WorkflowRow, WorkflowStatus, WorkflowWithTasks } from "../provider.js"
import { IN_LIST, TASK_COLUMNS, WORKFLOW_COLUMNS, inListsOf, toTaskRow, toWorkflowRow } from "./rows.js"

function prepare(db: Database.Database, p: string) {
  return {
    selectWorkflow: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id = ?`).raw(),
    selectTasks: db.prepare(`SELECT ${TASK_COLUMNS} FROM ${p}tasks WHERE workflow_id = ? ORDER BY seq`).raw(),
    selectWorkflowsOfMany: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id IN (${IN_LIST})`).raw(),
    selectTasksOfMany: db
      .prepare(`SELECT ${TASK_COLUMNS} FROM ${p}tasks WHERE workflow_id IN (${IN_LIST}) ORDER BY workflow_id, seq`)
      .raw(),
    selectStatusesOfMany: db.prepare(`SELECT id, status FROM ${p}workflows WHERE id IN (${IN_LIST})`).raw(),
    // Two statements rather than one with `(? IS NULL OR status = ?)`, which no index can serve.
    listWorkflows: db.prepare(`SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows WHERE id > ? ORDER BY id LIMIT ?`).raw(),
    listWorkflowsByStatus: db
      .prepare(
        `SELECT ${WORKFLOW_COLUMNS} FROM ${p}workflows INDEXED BY ${p}workflows_status
         WHERE status = ? AND id > ? ORDER BY id LIMIT ?`,
      )
      .raw(),
  }
}

/** The statements of the core reads, prepared once. */
export class SQLiteReads {
  private readonly s: ReturnType<typeof prepare>

  constructor(
    private readonly db: Database.Database,
    p: string,
  ) {
    this.s = prepare(db, p)
  }

  /** One workflow with its tasks, or `null`. */
  workflow(id: string): WorkflowWithTasks | null {
    const row = this.s.selectWorkflow.get(id) as unknown[] | undefined
    if (!row) return null
    return { workflow: toWorkflowRow(row), tasks: (this.s.selectTasks.all(id) as unknown[][]).map(toTaskRow) }
  }

  /** The given workflows with their tasks, IN_LIST_SIZE IDs per statement, through the primary-key index. */
  workflows(ids: string[]): WorkflowWithTasks[] {
    const found: WorkflowWithTasks[] = []
    // One read transaction: the workflows and their tasks come from one snapshot.
    this.db.transaction(() => {
      for (const chunk of inListsOf(ids)) {
        const byID = new Map<string, WorkflowWithTasks>()
        for (const row of this.s.selectWorkflowsOfMany.all(...chunk) as unknown[][]) {
          const workflow = toWorkflowRow(row)
          const entry = { workflow, tasks: [] }
          byID.set(workflow.id, entry)
          found.push(entry)
        }
        for (const row of this.s.selectTasksOfMany.all(...chunk) as unknown[][]) byID.get(row[0] as string)?.tasks.push(toTaskRow(row))
      }
    })()
    return found
  }

  /** The statuses of the given workflows, IN_LIST_SIZE IDs per statement. */
  statuses(ids: string[]): Array<{ id: string; status: WorkflowStatus }> {
    const statuses: Array<{ id: string; status: WorkflowStatus }> = []
    for (const chunk of inListsOf(ids)) {
      for (const row of this.s.selectStatusesOfMany.all(...chunk) as unknown[][]) {
        statuses.push({ id: row[0] as string, status: row[1] as WorkflowStatus })
      }
    }
    return statuses
  }

  /** A page of workflows in ID order, optionally of one status (the filter's core fields only). */
  list(filter: WorkflowFilter): WorkflowRow[] {
    // Every ID sorts after "" (IDs are never empty).
    const afterID = filter.afterID ?? ""
    const rows =
      filter.status === undefined
        ? this.s.listWorkflows.all(afterID, filter.limit)
        : this.s.listWorkflowsByStatus.all(filter.status, afterID, filter.limit)
    return (rows as unknown[][]).map(toWorkflowRow)
  }
}
