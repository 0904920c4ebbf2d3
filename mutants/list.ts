/**
 * The deliberate defects `npm run mutants` applies, one at a time, to a copy
 * of the source: each breaks one promise of the README ("Guarantees", the
 * outcomes table, Leases) or of shared/RELIABILITY.md, and names the tests
 * that must then fail. A mutant whose tests still pass has survived: the
 * promise is not proven by the suite.
 *
 * Data, not code: each entry replaces `find` (exact text, found exactly once
 * in `file`, or the run refuses to start) with `replace`. When code moves
 * (a file is split, a line rewritten), re-point `file` and `find` here; the
 * run lists every entry whose text it cannot find. When a new guarantee is
 * added, add the defect that would break it, and the test that catches it.
 *
 * @module
 */

/** Tests that must catch a mutant: a file of `test/` (without `.test.ts`), optionally only the tests whose names match `pattern`. */
export type TestSelection = string | { file: string; pattern: string }

/** One deliberate defect. */
export interface Mutant {
  /** Unique, kebab-case. */
  id: string
  /** The promise the defect breaks, in the README's words where it has them. */
  promise: string
  /** The file changed, relative to the repository root. */
  file: string
  /** Exact text to replace; must occur exactly once in `file`. */
  find: string
  replace: string
  /** Tests that must fail with the defect, tried in order (the first failure kills the mutant); fastest first. */
  tests: TestSelection[]
}

export const MUTANTS: readonly Mutant[] = [
  // ---- leases and fencing ------------------------------------------------------
  {
    id: "owned-without-time-check",
    promise: "A runner writes a task's result only while its lease, as last renewed, has time left (README, Leases)",
    file: "src/runtime/lease-keeper.ts",
    find: "return !entry.superseded && entry.leaseExpiresAt - this.leaseMargin / 2 > this.o.now()",
    replace: "return !entry.superseded",
    tests: [{ file: "takeover", pattern: "own lease" }],
  },
  {
    id: "may-start-task-ignores-lease",
    promise: "A runner starts no task with less than heartbeatMS of its lease left (README, Leases)",
    file: "src/runtime/lease-keeper.ts",
    find: "return this.leaseLetsTaskStart(entry.leaseExpiresAt)",
    replace: "return true",
    tests: [{ file: "takeover", pattern: "own lease" }, { file: "faults", pattern: "renewLeases" }],
  },
  {
    id: "lease-guard-fires-no-signal",
    promise: "When it cannot renew, a runner fires the running tasks' signals before the lease ends (README, Leases)",
    file: "src/runtime/lease-keeper.ts",
    find: 'entry.controller.abort(new Error("lease about to expire: it could not be renewed"))',
    replace: "// mutant: the lease guard fires no signal",
    tests: [{ file: "faults", pattern: "renewLeases" }],
  },
  {
    id: "lost-lease-fires-no-signal",
    promise: "The running task's signal fires when the lease is lost (README, TaskExecutionContext.signal)",
    file: "src/runtime/lease-keeper.ts",
    find: 'entry.controller.abort(new Error("lease lost"))',
    replace: "// mutant: a lost lease fires no signal",
    tests: [{ file: "takeover", pattern: "heartbeat finds the lease gone" }],
  },
  {
    id: "fenced-write-ignored",
    promise: "A runner whose lease was taken changes nothing, drops the workflow and emits leaseLost (Guarantee 5)",
    file: "src/runtime/execution.ts",
    find: "if (!(await env.commit(write))) return { kind: \"fenced\" }",
    replace: "await env.commit(write)",
    tests: [{ file: "takeover", pattern: "lease was taken" }],
  },
  {
    id: "sqlite-update-not-fenced",
    promise: "Every state write is fenced by the lease token (Guarantee 5), SQLite",
    file: "src/storage/sqlite/updates.ts",
    find: "`UPDATE ${p}workflows SET updated_at = ?, recoveries = ?, crashes = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`",
    replace: "`UPDATE ${p}workflows SET updated_at = ?, recoveries = ?, crashes = ? WHERE id = ? AND (lease_token = ? OR 1) AND status = 'pending'`",
    tests: ["conformance"],
  },
  {
    id: "postgres-update-not-fenced",
    promise: "Every state write is fenced by the lease token (Guarantee 5), Postgres",
    file: "src/storage/postgres/update.ts",
    find: "WHERE w.id = u.id AND w.lease_token = u.token AND w.status = CASE WHEN u.token IS NOT NULL THEN 'pending' END",
    replace: "WHERE w.id = u.id AND w.status = CASE WHEN u.token IS NOT NULL THEN 'pending' END",
    tests: [{ file: "postgres-provider", pattern: "conformance" }],
  },
  {
    id: "memory-update-not-fenced",
    promise: "Every state write is fenced by the lease token (Guarantee 5), memory provider",
    file: "src/storage/memory.ts",
    find: 'if (!entry || entry.workflow.status !== "pending" || entry.workflow.leaseToken !== u.token) return false',
    replace: 'if (!entry || entry.workflow.status !== "pending") return false',
    tests: ["conformance"],
  },
  {
    id: "renewal-not-fenced",
    promise: "Leases are renewed only by the token that holds them (at most one live owner, Guarantee 5)",
    file: "src/storage/sqlite/claims.ts",
    find: "`UPDATE ${p}workflows SET available_at = ? WHERE id = ? AND lease_token = ? AND status = 'pending'`",
    replace: "`UPDATE ${p}workflows SET available_at = ? WHERE id = ? AND (lease_token = ? OR 1) AND status = 'pending'`",
    tests: ["conformance"],
  },
  {
    id: "release-not-fenced",
    promise: "Only the lease holder releases its lease (Guarantee 5)",
    file: "src/storage/sqlite/claims.ts",
    find: "lease_token = NULL, available_at = ?\n       WHERE id = ? AND lease_token = ?",
    replace: "lease_token = NULL, available_at = ?\n       WHERE id = ? AND (lease_token = ? OR 1)",
    tests: ["conformance"],
  },
  {
    id: "claim-ignores-lease-expiry",
    promise: "At most one live runner owns a workflow at a time: a lease is claimable only once expired (Guarantee 5), SQLite",
    file: "src/storage/sqlite/claims.ts",
    find: "WHERE status = 'pending' AND available_at <= ? ORDER BY available_at LIMIT ?",
    replace: "WHERE status = 'pending' AND (available_at <= ? OR 1) ORDER BY available_at LIMIT ?",
    tests: ["conformance"],
  },
  {
    id: "postgres-claim-ignores-lease-expiry",
    promise: "At most one live runner owns a workflow at a time: a lease is claimable only once expired (Guarantee 5), Postgres",
    file: "src/storage/postgres/claim.ts",
    find: "AND CASE WHEN lease_token IS NULL OR lease_expires_at IS NULL OR lease_expires_at <= $1 THEN TRUE",
    replace: "AND CASE WHEN TRUE THEN TRUE",
    tests: [{ file: "postgres-provider", pattern: "conformance" }],
  },
  {
    id: "postgres-claim-not-hot",
    promise: "On Postgres a claim writes no index entries: it is a HOT update (README, Performance; issue 14)",
    file: "src/storage/postgres/claim.ts",
    find: "SET lease_owner = $4, lease_token = $5, lease_expires_at = $6,",
    replace: "SET lease_owner = $4, lease_token = $5, lease_expires_at = $6, available_at = $1,",
    tests: ["postgres-hot-updates"],
  },

  // ---- durability and idempotent adds ------------------------------------------
  {
    id: "sqlite-synchronous-off",
    promise: "SQLite runs with synchronous=FULL by default: a committed workflow survives power loss (Guarantee 1)",
    file: "src/storage/sqlite.ts",
    find: "this.db.pragma(`synchronous = ${synchronous}`)",
    replace: 'this.db.pragma("synchronous = OFF")',
    tests: ["sqlite-settings"],
  },
  {
    id: "insert-not-atomic",
    promise: "addWorkflow commits the workflow and all its tasks in one atomic write (Guarantee 1)",
    file: "src/storage/sqlite.ts",
    find: "this.insertTx = this.inTransaction((workflows: NewWorkflow[]) => inserts.insert(workflows))",
    replace: "this.insertTx = (workflows: NewWorkflow[]) => inserts.insert(workflows)",
    tests: [{ file: "faults", pattern: "insert transaction" }],
  },
  {
    id: "add-acknowledged-before-commit",
    promise: "Once addWorkflow resolves, the workflow is committed and never lost (Guarantee 1)",
    file: "src/client.ts",
    find: "return await this.inserts.submit(workflow)",
    replace: "void this.inserts.submit(workflow).catch(() => {})\n      return { created: true, afterFailure: false }",
    tests: [{ file: "faults", pattern: "insert transaction|outage" }],
  },
  {
    id: "group-commit-resolves-before-commit",
    promise: "Each caller's promise resolves only after the group commit's transaction (README, SQLite)",
    file: "src/group-commit.ts",
    find: "        const outputs = await this.commit(batch.map((entry) => entry.item), false)\n        batch.forEach((entry, i) => entry.resolve(outputs[i] as Out))",
    replace: "        const committing = this.commit(batch.map((entry) => entry.item), false)\n        batch.forEach((entry) => entry.resolve(true as Out))\n        await committing",
    tests: ["group-commit"],
  },
  {
    id: "idempotent-insert-overwrites",
    promise: "Adding by ID is idempotent: an existing workflow is left unchanged (Guarantee 6)",
    file: "src/storage/memory.ts",
    find: "  private insertOne(w: NewWorkflow): boolean {\n    if (this.workflows.has(w.id)) return false",
    replace: "  private insertOne(w: NewWorkflow): boolean {\n    // mutant: an existing ID is overwritten",
    tests: ["conformance", { file: "idempotent-add", pattern: "different payload" }],
  },

  // ---- recorded results, order, recovery -----------------------------------------
  {
    id: "claim-returns-completed-tasks-as-pending",
    promise: "Once recorded, a task is never run again (Guarantee 3): a claim returns tasks as stored",
    file: "src/storage/memory.ts",
    find: "return claimable.map(copy)",
    replace:
      'return claimable.map((e) => ({ workflow: { ...e.workflow }, tasks: e.tasks.map((t) => ({ ...t, status: "pending" as const, result: null })) }))',
    tests: ["conformance"],
  },
  {
    id: "claim-drops-attempts",
    promise: "Recovery restarts a workflow with attempt counts that survived the crash (README, attempt)",
    file: "src/storage/sqlite/claims.ts",
    find: "for (const row of s.selectTasksOfMany.all(...chunk) as unknown[][]) byID.get(row[0] as string)?.tasks.push(toTaskRow(row))",
    replace: "for (const row of s.selectTasksOfMany.all(...chunk) as unknown[][]) byID.get(row[0] as string)?.tasks.push({ ...toTaskRow(row), attempts: 0 })",
    tests: ["conformance"],
  },
  {
    id: "attempt-history-not-stored",
    promise: "each task lists its last 20 attempts with start, end, outcome, error and runner (README, Dashboard)",
    file: "src/storage/sqlite/updates.ts",
    find: "attempt_history = COALESCE(?, attempt_history)",
    replace: "attempt_history = COALESCE(NULL * ?, attempt_history)",
    tests: ["attempt-history"],
  },
  {
    id: "attempt-not-stamped",
    promise: "each task lists its last 20 attempts with start, end, outcome, error and runner (README, Dashboard)",
    file: "src/runtime/execution.ts",
    find: "  change.startedAt = startedAt\n",
    replace: "\n",
    tests: ["attempt-history"],
  },
  {
    id: "attempts-not-persisted",
    promise: "attempt counts are persisted across restarts (README, attempt)",
    file: "src/storage/sqlite/updates.ts",
    find: "`UPDATE ${p}tasks SET status = ?, result = ?, error = ?, attempts = ?, updated_at = ?, wake_at = ?,",
    replace: "`UPDATE ${p}tasks SET status = ?, result = ?, error = ?, attempts = attempts + 0 * ?, updated_at = ?, wake_at = ?,",
    tests: ["conformance"],
  },
  {
    id: "completed-tasks-run-again",
    promise: "Once recorded, a task is never run again and its result never changes (Guarantee 3)",
    file: "src/runtime/execution.ts",
    find: 'if (task.status !== "pending") continue',
    replace: 'if (task.status === "failed") continue',
    tests: [{ file: "prepare", pattern: "after recovery" }],
  },
  {
    id: "tasks-out-of-order",
    promise: "Tasks of a workflow run in order (Guarantee 4)",
    file: "src/runtime/execution.ts",
    find: "for (let i = 0; i < tasks.length; i++) {\n    const task = tasks[i]!",
    replace: "for (let i = tasks.length - 1; i >= 0; i--) {\n    const task = tasks[i]!",
    tests: [{ file: "outcomes", pattern: "result stored, the workflow goes on" }],
  },
  {
    id: "retention-deletes-pending",
    promise: "Retention deletes ended workflows only; pending workflows are never deleted (README, deleteEndedWorkflows)",
    file: "src/storage/sqlite/client-writes.ts",
    find: "`DELETE FROM ${p}workflows INDEXED BY ${p}workflows_ended WHERE status <> 'pending' AND updated_at < ?`",
    replace: "`DELETE FROM ${p}workflows WHERE updated_at < ?`",
    tests: ["conformance"],
  },

  // ---- the outcomes table ----------------------------------------------------------
  {
    id: "retry-delay-ignored",
    promise: "A task that throws is retried after the retry delay (outcomes table)",
    file: "src/engine.ts",
    find: "const at = c.now + retryDelay(c.retry, c.retryDelayMS, task.attempts)",
    replace: "const at = c.now",
    tests: [{ file: "outcomes", pattern: "waits retryDelayMS" }],
  },
  {
    id: "abort-workflow-goes-on",
    promise: 'abort: "workflow" fails the workflow; later tasks never run (outcomes table)',
    file: "src/engine.ts",
    find: 'if (outcome.scope === "workflow") return { write: endWorkflow(c, workflowID, "failed", change), end: ENDED_FAILED }',
    replace: "// mutant: abort workflow goes on like abort task",
    tests: [{ file: "outcomes", pattern: "aborts the workflow" }],
  },
  {
    id: "max-attempts-ignored",
    promise: "With maxAttempts, the task and workflow fail when it is reached (outcomes table)",
    file: "src/engine.ts",
    find: "const exhausted = !outcome.retry || (c.retry?.maxAttempts !== undefined && attempts >= c.retry.maxAttempts)",
    replace: "const exhausted = !outcome.retry",
    tests: [{ file: "outcomes", pattern: "maxAttempts" }],
  },
  {
    id: "timeout-not-enforced",
    promise: "An attempt running longer than timeoutMS fails and is retried; its signal fires (README, TaskRunner.timeoutMS)",
    file: "src/runtime/execution.ts",
    find: "if (timeout) return outcomeWhenSettled(env, task, withTimeout(runner.timeoutMS, timeout, () => run(env, runner, task, context)))",
    replace: "// mutant: the attempt runs without its timeout",
    tests: [{ file: "outcomes", pattern: "times out" }],
  },
  {
    id: "prepare-shared-across-workflows",
    promise: "Prepare's result reaches the later tasks of that runner in that workflow only (README, Prepare)",
    file: "src/runtime/execution.ts",
    find: "const prepared = env.preparedFor(task.workflowID)",
    replace: 'const prepared = env.preparedFor("")',
    tests: ["prepare"],
  },

  // ---- the runner's methods ----------------------------------------------------------
  {
    id: "result-resolves-before-end",
    promise: "result() waits until the workflow has ended (README, addWorkflow)",
    file: "src/result-waiters.ts",
    find: 'return status !== "pending"',
    replace: "return true",
    tests: [{ file: "lifecycle", pattern: "executes nothing before recover" }],
  },
  {
    id: "cancel-fires-no-signal",
    promise: "cancelWorkflow fires the running task's signal; no further task starts (README, cancelWorkflow)",
    file: "src/runner.ts",
    find: 'this.executions.abort(id, new Error("workflow cancelled"))',
    replace: "// mutant: cancelling fires no signal",
    tests: [{ file: "context", pattern: "cancelled" }],
  },
  {
    id: "stop-keeps-leases",
    promise: "stop() releases the leases of unfinished workflows so other runners take them at once (README, stop)",
    file: "src/runtime/executions.ts",
    find: "if (!this.active.get(id)?.superseded) return this.release([id])",
    replace: "// mutant: interrupted workflows keep their leases",
    tests: [{ file: "lifecycle", pattern: "stops gracefully" }],
  },
  {
    id: "held-ahead-kept-past-hold",
    promise: "A workflow claimed ahead and not started within pollIntervalMS is given back for any runner to take (README, Options: concurrency)",
    file: "src/runtime/claim-loop.ts",
    find: "options.pollIntervalMS, (expiresAt)",
    replace: "Infinity, (expiresAt)",
    tests: [{ file: "claim-ahead", pattern: "held behind long tasks" }],
  },
  {
    id: "stop-keeps-held-ahead",
    promise: "stop() gives back the leases of the workflows claimed ahead at once (README, Options: concurrency)",
    file: "src/runtime/claim-loop.ts",
    find: "    void this.release(this.ahead.takeAll())",
    replace: "    this.ahead.takeAll()",
    tests: [{ file: "claim-ahead", pattern: "when the runner stops" }],
  },
  {
    id: "concurrency-limit-ignored",
    promise: "A runner executes at most `concurrency` workflows at once (README, Options)",
    file: "src/runtime/claim-loop.ts",
    find: "return this.o.concurrency - this.o.executing() - this.reserved",
    replace: "return this.o.concurrency * 10 - this.o.executing() - this.reserved",
    tests: [{ file: "lifecycle", pattern: "concurrency limit" }],
  },

  // ---- crash loops ---------------------------------------------------------------------
  {
    id: "suspect-after-three-takeovers",
    promise: "From the second takeover in a row, a workflow is a suspect; at most 14 lives (Guarantee 7)",
    file: "src/runtime/crash-loop.ts",
    find: "export const SUSPECT_AFTER_RECOVERIES = 2",
    replace: "export const SUSPECT_AFTER_RECOVERIES = 3",
    tests: ["crash-loop"],
  },
  {
    id: "max-crashes-off-by-one",
    promise: "After maxCrashes (default 5) deaths, the workflow is failed (Guarantee 7)",
    file: "src/runtime/crash-loop.ts",
    find: "if (crashes >= maxCrashes) return failCrashLoop(env, task, crashes)",
    replace: "if (crashes > maxCrashes) return failCrashLoop(env, task, crashes)",
    tests: ["crash-loop"],
  },
  {
    id: "takeovers-not-counted",
    promise: "Storage counts takeovers in a row (recoveries) so crash loops are seen (Guarantee 7)",
    file: "src/storage/sqlite/claims.ts",
    find: "SET recoveries = recoveries + (lease_token IS NOT NULL), lease_owner = ?",
    replace: "SET recoveries = recoveries, lease_owner = ?",
    tests: ["conformance"],
  },
  // ---- added with the client, input isolation, remote cancel, full disk, schedules ----
  {
    id: "one-bad-add-fails-the-batch",
    promise: "One caller's bad input never fails another's addWorkflow (README, Bad input)",
    file: "src/client.ts",
    find: "{ maxInFlight, keyOf: (w) => w.id, isolateFailures: true }",
    replace: "{ maxInFlight, keyOf: (w) => w.id, isolateFailures: false }",
    tests: ["input-isolation"],
  },
  {
    id: "ill-formed-names-accepted",
    promise: "IDs, labels and runner names that are not well-formed Unicode are refused (README, Bad input)",
    file: "src/validate.ts",
    find: "  if (!isWellFormed(value)) {",
    replace: "  if (false) {",
    tests: ["unicode-ids"],
  },
  {
    id: "integer-like-labels-accepted",
    promise: "Integer-like labels are refused in the object form: tasks run in the order written (README, Usage)",
    file: "src/validate.ts",
    find: "    if (isArrayIndexKey(label)) {",
    replace: "    if (false) {",
    tests: ["task-order"],
  },
  {
    id: "remote-cancel-not-polled",
    promise: "A cancel from another process reaches the running task within about a poll interval (README, cancelWorkflow)",
    file: "src/runtime/cancel-watcher.ts",
    find: '      this.stopCancelled(statuses.filter((s) => s.status === "cancelled").map((s) => s.id))',
    replace: "      void statuses",
    tests: ["remote-cancel"],
  },
  {
    id: "result-not-woken-by-notify",
    promise: "On Postgres, result() is woken by NOTIFY when a workflow ends elsewhere (README, WorkflowClient)",
    file: "src/result-waiters.ts",
    find: "    const ended = this.storage.onWorkflowsEnded?.(() => this.requestPoll())",
    replace: "    const ended = undefined as undefined | (() => void)",
    tests: [{ file: "client", pattern: "NOTIFY" }],
  },
  {
    id: "no-checkpoint-after-full-disk",
    promise: "After a full disk, the SQLite WAL is checkpointed before the next write (README, A full disk)",
    file: "src/storage/sqlite/checkpoints.ts",
    find: "    if (this.needsRoom) this.checkpoint()",
    replace: "    void this.needsRoom",
    tests: ["sqlite-checkpoints"],
  },
  {
    id: "schedule-step-not-compare-and-set",
    promise: "Each schedule tick fires exactly once across runners (README, Schedules)",
    file: "src/storage/sqlite/schedules.ts",
    find: "       WHERE id = ? AND paused = 0 AND next_fire_at IS ? AND hash = ? AND buffered_tick_at IS ?`,",
    replace: "       WHERE id = ? AND paused = 0 AND (next_fire_at IS ? OR 1) AND hash = ? AND buffered_tick_at IS ?`,",
    tests: ["conformance"],
  },
  {
    id: "delayed-start-ignored",
    promise: "A workflow added with startAt or delayMS runs no earlier than its start (README, Delayed start)",
    file: "src/storage/sqlite/inserts.ts",
    find: "lease ? lease.expiresAt : (w.availableAt ?? w.now)",
    replace: "lease ? lease.expiresAt : w.now",
    tests: ["delayed-start"],
  },
  {
    id: "sleep-wake-time-not-stored",
    promise: "A sleep's wake time is stored once and never restarted by a recovery (README, Sleep)",
    file: "src/storage/sqlite/updates.ts",
    find: "s.updateTask.run(t.status, t.result, t.error, t.attempts, u.now, t.wakeAt ?? null, startedAt,",
    replace: "s.updateTask.run(t.status, t.result, t.error, t.attempts, u.now, null, startedAt,",
    tests: ["sleep-crash"],
  },
  {
    id: "sleep-wakes-at-once",
    promise: "A sleeping workflow is parked until its wake time, holding no lease or slot (README, Sleep)",
    file: "src/engine.ts",
    find: '    return { write: parkUntil(c, workflowID, wakeAt, change), end: { kind: "waiting", at: wakeAt } }',
    replace: '    return { write: parkUntil(c, workflowID, c.now, change), end: { kind: "waiting", at: c.now } }',
    tests: ["sleep"],
  },
  {
    id: "child-end-does-not-wake-parent",
    promise: "A child's end wakes its parked parent in the transaction that ends it (README, Child workflows), SQLite",
    file: "src/storage/sqlite/updates.ts",
    find: "if (parentID) this.children.wakeParent(parentID, u.now)",
    replace: "void parentID",
    tests: [{ file: "children", pattern: "without a poll" }],
  },
  {
    id: "child-end-does-not-wake-parent-postgres",
    promise: "A child's end wakes its parent across processes, without polling per parent (README, Child workflows), Postgres",
    file: "src/storage/postgres/children.ts",
    find: "SET available_at = CASE WHEN p.lease_token IS NULL AND p.available_at > e.now THEN e.now ELSE p.available_at END",
    replace: "SET available_at = p.available_at",
    tests: ["children-wake"],
  },
  {
    id: "cancel-leaves-children",
    promise: "Cancelling a parent cancels its pending children (README, Child workflows), SQLite",
    file: "src/storage/sqlite/client-writes.ts",
    find: "    this.children.cancelled(id, now)\n",
    replace: "\n",
    tests: [{ file: "children", pattern: "cancelling a parent" }],
  },
  {
    id: "parallel-reruns-ended-members",
    promise: "After a crash only the unfinished members of a parallel step run again (README, Parallel steps)",
    file: "src/steps/parallel.ts",
    find: 'if (member.status !== "pending" && !(retried && member.status === "failed" && member.kind === "workflow")) {',
    replace: 'if (member.status !== "pending" && member.kind === "parallel") {',
    tests: ["parallel-crash"],
  },

  {
    id: "schedule-tick-drops-child-kind",
    promise: "A schedule's workflow may have child workflows and parallel steps (README, Waiting for events)",
    file: "src/schedules/definition.ts",
    find: 'kind === "sleep" || kind === "workflow" || kind === "parallel"',
    replace: 'kind === "sleep"',
    tests: [{ file: "waits-together", pattern: "schedule" }],
  },
  {
    id: "retry-leaves-failed-child",
    promise: "retryWorkflow of a parent retries its failed child (README, Child workflows)",
    file: "src/client.ts",
    find: "      await this.retryFailed(child)\n",
    replace: "      void child\n",
    tests: [{ file: "waits-together", pattern: "retryWorkflow" }],
  },
  {
    id: "deleted-child-added-again",
    promise: "A parent whose ended child was deleted fails its step instead of adding the child again (README, Child workflows)",
    file: "src/steps/child.ts",
    find: 'if (!existing && typeof step.wakeAt === "number") {',
    replace: "if (!existing && false) {",
    tests: [{ file: "waits-together", pattern: "deleted" }],
  },

  // ---- events ------------------------------------------------------------------
  {
    id: "events-send-unserialized",
    promise: "Sending an event and starting a wait are serialized per (name, key): no lost wake-up (README, Events)",
    file: "src/storage/postgres/events.ts",
    find: "await client.query(this.db.query(LOCK_BY_PARAMS, [lockText(this.scope, event.name, event.key)]))",
    replace: "void LOCK_BY_PARAMS, lockText",
    tests: ["events-race"],
  },
  {
    id: "events-watermark-ignored",
    promise: "An event matches a wait only if it was sent after the workflow was added (README, Events)",
    file: "src/storage/sqlite/events.ts",
    find: "JOIN ${p}events e ON e.name = t.event_name AND e.key = t.event_key AND e.seq > t.event_after",
    replace: "JOIN ${p}events e ON e.name = t.event_name AND e.key = t.event_key AND e.seq > 0",
    tests: [{ file: "events", pattern: "before the workflow was added" }],
  },
  {
    id: "events-taken-event-not-stored",
    promise: "Each wait takes an event its workflow has not taken yet: two waits take two events (README, Events)",
    file: "src/storage/sqlite/updates.ts",
    find: "if (t.eventSeq !== undefined) this.events.storeTaken(u.workflowID, t.seq, t.eventSeq)",
    replace: "// mutant: the event a step took is not stored",
    tests: [{ file: "events", pattern: "two waits" }],
  },
  {
    id: "events-send-wakes-nobody",
    promise: "A send wakes every workflow waiting for it, in the same transaction (README, Events)",
    file: "src/storage/sqlite/events.ts",
    find: "const woken = this.s.wakeWaiters.run(event.now, event.now, event.name, event.key, stored.seq).changes",
    replace: "const woken = 0",
    tests: [{ file: "events", pattern: "broadcast" }],
  },
  // ---- timeouts and shutdown -----------------------------------------------------
  {
    id: "timeout-late-result-kept",
    promise: "timeoutMS: an attempt running longer fails (and is retried); its result is discarded (README, TaskRunner)",
    file: "src/runtime/execution.ts",
    find: "      timedOut = error\n      reject(error)\n      controller.abort(error)",
    replace: "      controller.abort(error)\n      reject(error)",
    tests: [{ file: "bad-results", pattern: "settles when its timeout fires" }],
  },
  {
    id: "stop-closes-storage-under-calls",
    promise: "stop() waits for the calls made before it: an addWorkflow under way is stored, or fails with its own error (README, The runner's methods)",
    file: "src/runner.ts",
    find: 'await this.client.endCalls(new RunnerStoppedError("runner stopped before the workflow ended"), "this runner was stopped")',
    replace: 'void this.client.endCalls(new RunnerStoppedError("runner stopped before the workflow ended"), "this runner was stopped")',
    tests: [{ file: "stop-calls", pattern: "idle runner" }],
  },
]
