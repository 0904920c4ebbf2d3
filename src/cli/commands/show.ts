/**
 * `durabletasks show ID`: one workflow with its tasks: state, attempts,
 * errors, times and payloads.
 *
 * @module
 */
import { MAX_ATTEMPTS_KEPT } from "../../attempts.js"
import type { WorkflowInfo } from "../../info.js"
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js"
import { payload, printable, time } from "../output.js"

/** Payloads longer than this are cut in the human output, unless `--full`. */
const PAYLOAD_CHARS = 200

/** The `show` command. */
export const showCommand: Command = {
  name: "show",
  summary: "show a workflow and its tasks (state, attempts, errors, times, payloads)",
  help: `Usage: durabletasks show ID [options]

Shows one workflow and its tasks.

Options:
  --full                   print payloads (data, results) whole; by default they are cut at ${PAYLOAD_CHARS} characters`,
  options: { full: { type: "boolean" } },
  check(_values, positionals) {
    if (positionals.length !== 1) throw new UsageError(`show takes exactly one workflow ID, got ${positionals.length}`)
    if (positionals[0] === "") throw new UsageError("show: the workflow ID must not be empty")
  },
  async run(context) {
    const id = context.positionals[0] as string
    const workflow = await context.client.getWorkflow(id)
    if (!workflow) {
      context.out.error(`durabletasks show: no workflow with ID ${JSON.stringify(id)}`)
      return EXIT.failure
    }
    if (context.json) context.out.json(workflow)
    else print(context, workflow, context.values.full === true ? Infinity : PAYLOAD_CHARS)
    return EXIT.ok
  },
}

function print(context: CommandContext, w: WorkflowInfo, max: number): void {
  const line = (text: string) => context.out.line(text)
  line(`workflow  ${printable(w.id)}`)
  line(`status    ${w.status}${w.state ? ` (${w.state})` : ""}`)
  line(`created   ${time(w.createdAt)}`)
  line(`updated   ${time(w.updatedAt)}`)
  if (w.lease) line(`lease     ${printable(w.lease.owner)} until ${time(w.lease.expiresAt)}`)
  if (w.nextRunAt) line(`next run  ${time(w.nextRunAt)}`)
  if (w.recoveries > 0 || w.crashes > 0) line(`crashes   ${w.crashes} (taken over ${w.recoveries} times in a row)`)
  line(`tasks     ${w.taskCount}`)
  for (const t of w.tasks) {
    line("")
    // A step that is not a task has no runner or attempts: its kind and state say what it does.
    if (t.kind === "task") line(`  #${t.seq} ${printable(t.name)}  runner ${printable(t.task)}  ${t.status}  attempts ${t.attempts}`)
    else line(`  #${t.seq} ${printable(t.name)}  ${t.kind}  ${t.state}`)
    line(`     created ${time(t.createdAt)}  updated ${time(t.updatedAt)}`)
    if (t.startedAt) line(`     started ${time(t.startedAt)}  ended ${time(t.endedAt)}`)
    line(`     data    ${printable(payload(t.data, max))}`)
    if (t.status === "completed") line(`     result  ${printable(payload(t.result, max))}`)
    if (t.error !== null) line(`     error   ${printable(t.error)}`)
    if (t.attemptHistory.length > 0) line(`     attempts (last ${MAX_ATTEMPTS_KEPT} kept, oldest first):`)
    t.attemptHistory.forEach((a, i) => {
      const took = a.startedAt && a.endedAt ? ` (${a.endedAt.getTime() - a.startedAt.getTime()} ms)` : ""
      const when = `${a.startedAt ? time(a.startedAt) : "start unknown"} -> ${time(a.endedAt)}${took}`
      const error = a.error === null ? "" : `  ${printable(a.error)}`
      line(`       ${i + 1}. ${a.outcome.padEnd(11)} ${when}  on ${printable(a.runnerID ?? "unknown runner")}${error}`)
    })
  }
}
