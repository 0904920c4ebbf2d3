/**
 * `durabletasks schedules [pause|resume|trigger|delete ID…]`: lists the
 * store's cron schedules, or changes them one ID at a time, each reported;
 * the exit code is 1 if any ID could not be changed.
 *
 * @module
 */
import type { WorkflowClient } from "../../client.js"
import type { ScheduleInfo } from "../../schedules/info.js"
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js"
import { printable, table, time } from "../output.js"
import { checkIDs, parseCount, stringOption } from "../values.js"

/** A change to one schedule: what it does, and what it tells when it did nothing. */
interface ScheduleChange {
  past: string
  /** Applies it; a string is what it did (the triggered workflow's ID), `false` that it did nothing. */
  apply(client: WorkflowClient, id: string): Promise<string | boolean>
  /** Why nothing changed, given the schedule as it is now (or `null` if there is none). */
  why(schedule: ScheduleInfo | null): string
}

const CHANGES: Record<string, ScheduleChange> = {
  pause: { past: "paused", apply: (c, id) => c.pauseSchedule(id), why: () => "not found" },
  resume: { past: "resumed", apply: (c, id) => c.resumeSchedule(id), why: (s) => (s ? "not paused" : "not found") },
  trigger: {
    past: "triggered",
    apply: async (c, id) => (await c.triggerSchedule(id))?.id ?? false,
    why: (s) => (s ? "its workflow for now exists already" : "not found"),
  },
  delete: { past: "deleted", apply: (c, id) => c.deleteSchedule(id), why: () => "not found" },
}

/** The `schedules` command. */
export const schedulesCommand: Command = {
  name: "schedules",
  summary: "list cron schedules; pause, resume, trigger or delete them",
  help: `Usage: durabletasks schedules [options]
       durabletasks schedules pause|resume|trigger|delete ID… [options]

Without an action, lists the schedules in ID order with their cron, time zone,
next and last fire times and the last tick's workflow and status.
  pause ID…      no tick fires until it is resumed
  resume ID…     fires again from the next tick after now
  trigger ID…    adds the schedule's workflow now, once
  delete ID…     removes the schedule (the workflows its ticks added stay);
                 a runner that still declares it adds it again when it starts
Exits with 1 if any ID could not be changed.

Options (list):
  --limit N                how many to show (1 to 1000, default 100)
  --after ID               continue after this schedule ID`,
  options: { limit: { type: "string" }, after: { type: "string" } },
  check(values, positionals) {
    const [action, ...ids] = positionals
    if (action === undefined) {
      const limit = stringOption(values, "limit")
      if (limit !== undefined) parseCount(limit, "--limit", 1, 1_000)
      return
    }
    if (!(action in CHANGES)) {
      throw new UsageError(`schedules takes pause, resume, trigger or delete, got ${JSON.stringify(action)}`)
    }
    if (values.limit !== undefined || values.after !== undefined) throw new UsageError(`--limit and --after are for listing, not ${action}`)
    checkIDs(ids, `schedules ${action}`)
  },
  async run(context) {
    const [action, ...ids] = context.positionals
    return action === undefined ? list(context) : change(context, action, CHANGES[action]!, ids)
  },
}

async function list(context: CommandContext): Promise<number> {
  const limit = stringOption(context.values, "limit")
  const schedules = await context.client.listSchedules({
    limit: limit === undefined ? 100 : parseCount(limit, "--limit", 1, 1_000),
    afterID: stringOption(context.values, "after"),
  })
  if (context.json) {
    for (const s of schedules) context.out.json(s)
    return EXIT.ok
  }
  const rows = schedules.map((s) => [
    printable(s.id),
    s.cron,
    s.timezone ?? "UTC",
    s.paused ? "paused" : s.overlap,
    time(s.nextFireAt),
    time(s.lastFireAt),
    s.lastWorkflow ? `${printable(s.lastWorkflow.id)} (${s.lastWorkflow.status ?? "deleted"})` : "-",
    String(s.skippedTicks),
  ])
  for (const line of table(["ID", "CRON", "ZONE", "STATE", "NEXT", "LAST", "LAST WORKFLOW", "SKIPPED"], rows)) context.out.line(line)
  return EXIT.ok
}

async function change(context: CommandContext, action: string, how: ScheduleChange, ids: string[]): Promise<number> {
  let failed = 0
  for (const id of ids) {
    const done = await how.apply(context.client, id)
    const reason = done === false ? how.why(await context.client.getSchedule(id)) : undefined
    if (reason !== undefined) failed++
    if (context.json) {
      context.out.json(reason === undefined ? { id, [how.past]: true, ...(typeof done === "string" ? { workflowID: done } : {}) } : { id, [how.past]: false, reason })
    } else if (reason === undefined) {
      context.out.line(`${how.past} ${printable(id)}${typeof done === "string" ? `: workflow ${printable(done)}` : ""}`)
    } else {
      context.out.error(`${printable(id)}: ${action} changed nothing (${reason})`)
    }
  }
  return failed > 0 ? EXIT.failure : EXIT.ok
}
