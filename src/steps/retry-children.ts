/**
 * Which children `retryWorkflow` of a parent retries with it.
 *
 * A child workflow step (or parallel member) whose child failed fails again
 * at once when its parent is retried, since the step finds the same failed
 * child. So retrying the parent retries, first, the failed children of the
 * step it resumes: that step's child, or, when it is a member of a parallel
 * step, the children of every child member of that step (several may have
 * failed together; the parallel step runs its failed child members again on
 * a retry, see parallel.ts). Only children linked to this parent are
 * retried: a child with a given `workflowID` that the parent did not add is
 * not its to retry, and a cancelled or deleted child is left as it is.
 *
 * @module
 */
import type { TaskRow } from "../storage/provider.js"
import { childIDOf, readChild } from "./child-spec.js"
import { memberCount } from "./parallel-spec.js"

type StepRow = Pick<TaskRow, "seq" | "name" | "workflowID" | "data" | "kind">

/**
 * The IDs of the failed children to retry with `parentID`, whose rows are
 * `steps`, when the retry resumes step `resumeSeq`.
 *
 * @param read - reads a stored workflow's status and parent link
 */
export async function failedChildrenToRetry(
  parentID: string,
  steps: readonly StepRow[],
  resumeSeq: number,
  read: (id: string) => Promise<{ status: string; parentID?: string | null } | null>,
): Promise<string[]> {
  const found: string[] = []
  for (const step of childStepsOf(steps, resumeSeq)) {
    let id: string
    try {
      id = childIDOf(step, readChild(step))
    } catch {
      // A definition no code can read: the resumed step fails on it, saying so.
      continue
    }
    const child = await read(id)
    if (child?.status === "failed" && child.parentID === parentID) found.push(id)
  }
  return found
}

/** The child steps a retry resuming `resumeSeq` runs again: its own, or its parallel step's child members. */
function childStepsOf(steps: readonly StepRow[], resumeSeq: number): StepRow[] {
  const index = steps.findIndex((s) => s.seq === resumeSeq)
  const resumed = steps[index]
  if (!resumed) return []
  for (let g = index - 1; g >= 0; g--) {
    const group = steps[g] as StepRow
    if (group.kind !== "parallel") continue
    let count: number
    try {
      count = memberCount(group)
    } catch {
      continue
    }
    if (g + count >= index) return steps.slice(g + 1, g + 1 + count).filter((m) => m.kind === "workflow")
    break
  }
  return resumed.kind === "workflow" ? [resumed] : []
}
