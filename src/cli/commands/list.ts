/**
 * `durabletasks list`: workflows newest first (or in ID order), filtered,
 * a page at a time.
 *
 * @module
 */
import type { ListWorkflowsFilter } from "../../inspection.js"
import type { WorkflowSummary } from "../../info.js"
import { EXIT, UsageError, type Command, type CommandContext, type OptionValues } from "../command.js"
import { printable, table, time } from "../output.js"
import { parseCount, parseStatus, parseTime, stringOption } from "../values.js"

/** The `list` command. */
export const listCommand: Command = {
  name: "list",
  summary: "list workflows, newest first, with filters and paging",
  help: `Usage: durabletasks list [options]

Lists workflows, newest first, a page at a time.

Options:
  --status STATUS          pending, completed, failed or cancelled
  --runner NAME            only workflows with a task run by this task runner
  --created-after TIME     created at or after TIME (ISO date, or a duration ago: 2h, 7d)
  --created-before TIME    created before TIME
  --id-prefix PREFIX       only IDs starting with PREFIX
  --limit N                page size, 1 to 1000 (default 50)
  --after ID               the next page: continue after this workflow (the last ID shown)
  --order newest|id        newest first (default), or ID order`,
  options: {
    status: { type: "string" },
    runner: { type: "string" },
    "created-after": { type: "string" },
    "created-before": { type: "string" },
    "id-prefix": { type: "string" },
    limit: { type: "string" },
    after: { type: "string" },
    order: { type: "string" },
  },
  check(values, positionals, now) {
    if (positionals.length > 0) throw new UsageError(`list takes no arguments, got ${JSON.stringify(positionals[0])}`)
    toFilter(values, now)
  },
  async run(context) {
    const filter = toFilter(context.values, context.now)
    const after = stringOption(context.values, "after")
    if (after !== undefined) {
      if (filter.order === "newest") {
        // The newest-first cursor needs the workflow's creation time; the ID alone is what people copy from the page.
        const last = await context.client.getWorkflow(after)
        if (!last) {
          context.out.error(`durabletasks list: no workflow with ID ${JSON.stringify(after)} to continue after (deleted meanwhile?)`)
          return EXIT.failure
        }
        filter.cursor = last
      } else {
        filter.afterID = after
      }
    }
    const page = await context.client.listWorkflows(filter)
    if (context.json) {
      for (const workflow of page) context.out.json(workflow)
    } else {
      printPage(context, page)
    }
    const last = page.at(-1)
    if (last && page.length === filter.limit && !context.json) context.out.error(`more: add --after ${quoteArg(last.id)}`)
    return EXIT.ok
  },
}

function toFilter(values: OptionValues, now: number): ListWorkflowsFilter & { limit: number } {
  const order = stringOption(values, "order") ?? "newest"
  if (order !== "newest" && order !== "id") throw new UsageError(`--order takes newest or id, got ${JSON.stringify(order)}`)
  const filter: ListWorkflowsFilter & { limit: number } = { limit: 50, order }
  const status = stringOption(values, "status")
  if (status !== undefined) filter.status = parseStatus(status, "--status")
  const runner = stringOption(values, "runner")
  if (runner !== undefined) filter.runner = nonEmpty(runner, "--runner")
  const prefix = stringOption(values, "id-prefix")
  if (prefix !== undefined) filter.idPrefix = nonEmpty(prefix, "--id-prefix")
  const after = stringOption(values, "created-after")
  if (after !== undefined) filter.createdAfter = parseTime(after, "--created-after", now)
  const before = stringOption(values, "created-before")
  if (before !== undefined) filter.createdBefore = parseTime(before, "--created-before", now)
  const limit = stringOption(values, "limit")
  if (limit !== undefined) filter.limit = parseCount(limit, "--limit", 1, 1_000)
  const afterID = stringOption(values, "after")
  if (afterID !== undefined) nonEmpty(afterID, "--after")
  return filter
}

function printPage(context: CommandContext, page: WorkflowSummary[]): void {
  if (page.length === 0) {
    context.out.line("no workflows")
    return
  }
  const rows = page.map((w) => [printable(w.id), w.state ? `${w.status} (${w.state})` : w.status, String(w.taskCount), time(w.createdAt), time(w.updatedAt)])
  for (const line of table(["ID", "STATUS", "TASKS", "CREATED", "UPDATED"], rows)) context.out.line(line)
}

function nonEmpty(value: string, option: string): string {
  if (value === "") throw new UsageError(`${option} must not be empty`)
  return value
}

/** An ID as a shell argument, quoted when it holds anything but plain characters. */
function quoteArg(id: string): string {
  return /^[\w.:@/-]+$/.test(id) ? id : `'${printable(id).replace(/'/g, `'\\''`)}'`
}
