/**
 * `durabletasks stats`: counts by status, the oldest pending workflow, and
 * what ended recently.
 *
 * @module
 */
import { WORKFLOW_STATUSES } from "../../storage/provider.js"
import { EXIT, UsageError, type Command } from "../command.js"
import { printable, table, time } from "../output.js"
import { parseDuration, stringOption } from "../values.js"

/** The `stats` command. */
export const statsCommand: Command = {
  name: "stats",
  summary: "counts by status, the oldest pending workflow, failures in the last hour",
  help: `Usage: durabletasks stats [options]

Counts workflows by status, shows the oldest pending one, and counts the
workflows that ended (completed, failed, cancelled) within a window.

Options:
  --window DURATION        how far back "ended" counts (default 1h)`,
  options: { window: { type: "string" } },
  check(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`stats takes no arguments, got ${JSON.stringify(positionals[0])}`)
    const window = stringOption(values, "window")
    if (window !== undefined) parseDuration(window, "--window")
  },
  async run(context) {
    const window = stringOption(context.values, "window") ?? "1h"
    const stats = await context.client.getWorkflowStats({ windowMS: parseDuration(window, "--window") })
    if (context.json) {
      context.out.json(stats)
      return EXIT.ok
    }
    for (const line of table(["STATUS", "COUNT"], WORKFLOW_STATUSES.map((s) => [s, String(stats.counts[s])]))) context.out.line(line)
    const oldest = stats.oldestPending
    context.out.line("")
    context.out.line(oldest ? `oldest pending: ${printable(oldest.id)}, created ${time(oldest.createdAt)}` : "oldest pending: none")
    const ended = stats.endedInWindow
    context.out.line(`ended in the last ${window}: ${ended.completed} completed, ${ended.failed} failed, ${ended.cancelled} cancelled`)
    return EXIT.ok
  },
}
