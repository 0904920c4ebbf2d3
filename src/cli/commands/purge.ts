/**
 * `durabletasks purge --older-than 7d`: deletes ended workflows, after a
 * confirmation on a terminal (or `--yes`); `--dry-run` only counts.
 *
 * @module
 */
import { ENDED_STATUSES } from "../../inspection.js"
import type { EndedStatus } from "../../storage/provider.js"
import { EXIT, UsageError, type Command, type OptionValues } from "../command.js"
import { parseDuration, parseEndedStatuses, stringOption, stringsOption } from "../values.js"

/** The `purge` command. */
export const purgeCommand: Command = {
  name: "purge",
  summary: "delete ended workflows older than a duration (asks first, or --yes)",
  help: `Usage: durabletasks purge --older-than DURATION [options]

Deletes ended workflows (completed, failed, cancelled) whose last change is
older than DURATION, with their tasks. Pending workflows are never deleted.
Asks for confirmation on a terminal; elsewhere pass --yes.

Options:
  --older-than DURATION    required: 90s, 30m, 12h, 7d, 2w…
  --status STATUS          only these statuses (repeat, or comma-separated: failed,cancelled)
  --dry-run                count what would be deleted, delete nothing
  --yes                    do not ask`,
  options: {
    "older-than": { type: "string" },
    status: { type: "string", multiple: true },
    "dry-run": { type: "boolean" },
    yes: { type: "boolean" },
  },
  check(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`purge takes no arguments, got ${JSON.stringify(positionals[0])}`)
    parsePurge(values)
  },
  async run(context) {
    const { olderThanMS, statuses } = parsePurge(context.values)
    const endedBefore = new Date(context.now - olderThanMS)
    const what = `${statuses.join(", ")} workflows last changed before ${endedBefore.toISOString()}`
    const count = () => context.client.deleteEndedWorkflows(olderThanMS, { statuses, dryRun: true })
    if (context.values["dry-run"] === true) {
      const n = await count()
      if (context.json) context.out.json({ dryRun: true, wouldDelete: n, statuses, endedBefore })
      else context.out.line(`would delete ${n} ${what}`)
      return EXIT.ok
    }
    if (context.values.yes !== true) {
      if (context.confirm === undefined) throw new UsageError("purge deletes workflows: pass --yes (or --dry-run) when stdin is not a terminal")
      const n = await count()
      if (n === 0) {
        context.out.line(`nothing to delete: no ${what}`)
        return EXIT.ok
      }
      if (!(await context.confirm(`Delete ${n} ${what}? [y/N] `))) {
        context.out.error("purge: not confirmed; nothing deleted")
        return EXIT.failure
      }
    }
    const deleted = await context.client.deleteEndedWorkflows(olderThanMS, { statuses })
    if (context.json) context.out.json({ dryRun: false, deleted, statuses, endedBefore })
    else context.out.line(`deleted ${deleted} ${what}`)
    return EXIT.ok
  },
}

function parsePurge(values: OptionValues): { olderThanMS: number; statuses: EndedStatus[] } {
  const olderThan = stringOption(values, "older-than")
  if (olderThan === undefined) throw new UsageError("purge needs --older-than DURATION (for example --older-than 7d)")
  const given = stringsOption(values, "status")
  return {
    olderThanMS: parseDuration(olderThan, "--older-than"),
    statuses: given.length > 0 ? parseEndedStatuses(given, "--status") : [...ENDED_STATUSES],
  }
}
