/**
 * `durabletasks cancel ID…` and `durabletasks retry ID…`: one change per ID,
 * each reported; the exit code is 1 if any ID could not be changed.
 *
 * @module
 */
import type { WorkflowClient } from "../../client.js"
import { EXIT, type Command } from "../command.js"
import { printable } from "../output.js"
import { checkIDs } from "../values.js"

/** A change the client makes to one workflow, and the status it needs. */
interface Change {
  name: "cancel" | "retry"
  past: "cancelled" | "retried"
  /** The status the workflow must have. */
  from: "pending" | "failed"
  apply(client: WorkflowClient, id: string): Promise<boolean>
}

function changeCommand(change: Change, summary: string, help: string): Command {
  return {
    name: change.name,
    summary,
    help,
    options: {},
    check(_values, positionals) {
      checkIDs(positionals, change.name)
    },
    async run(context) {
      let failed = 0
      for (const id of context.positionals) {
        const done = await change.apply(context.client, id)
        // Why it did not apply, from a read after the change: the status it has now (or none).
        const status = done ? null : ((await context.client.getWorkflow(id))?.status ?? null)
        if (!done) failed++
        if (context.json) {
          context.out.json(done ? { id, [change.past]: true } : { id, [change.past]: false, status, reason: status === null ? "not found" : `not ${change.from}` })
        } else if (done) {
          context.out.line(`${change.past} ${printable(id)}`)
        } else {
          context.out.error(
            status === null ? `${printable(id)}: no workflow with this ID` : `${printable(id)}: not ${change.from} (it is ${status}), left unchanged`,
          )
        }
      }
      return failed > 0 ? EXIT.failure : EXIT.ok
    },
  }
}

/** The `cancel` command. */
export const cancelCommand = changeCommand(
  { name: "cancel", past: "cancelled", from: "pending", apply: (client, id) => client.cancelWorkflow(id) },
  "cancel pending workflows (their running tasks are signalled)",
  `Usage: durabletasks cancel ID… [options]

Cancels pending workflows wherever they run: each becomes cancelled, the
runner executing it signals its running task, and no further task starts.
Exits with 1 if any ID is not a pending workflow.`,
)

/** The `retry` command. */
export const retryCommand = changeCommand(
  { name: "retry", past: "retried", from: "failed", apply: (client, id) => client.retryWorkflow(id) },
  "resume failed workflows from the task that failed",
  `Usage: durabletasks retry ID… [options]

Resumes failed workflows from the task that failed (its attempts start again
from 0); a runner picks them up. Exits with 1 if any ID is not a failed workflow.`,
)
