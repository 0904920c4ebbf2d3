/**
 * The storage contract of durabletasks.
 *
 * A provider stores plain rows and applies the compare-and-set rules written on
 * each method; it holds no policy. The WorkflowRunner decides what to write
 * (retries, aborts, Prepare, leases); the provider makes each write atomic and
 * fenced. The conformance suite in `durabletasks/testing` proves a provider
 * keeps every rule below.
 *
 * All times are milliseconds since the Unix epoch, passed in by the caller, so
 * a provider never reads a clock of its own. All JSON payloads are strings the
 * runner serialized; a provider stores and returns them byte for byte.
 *
 * Every ID, task label and runner name the runner passes has been validated
 * first: it is well-formed UTF-16 (no lone surrogates) and free of U+0000, so
 * it can be stored as UTF-8 text and read back unchanged. A provider need not
 * check them again; code that calls a provider directly must pass only such
 * strings (the runner refuses others with a `ValidationError`). JSON payloads
 * never contain either: JSON escapes them.
 *
 * This module holds the {@link StorageProvider} interface and its
 * capabilities, and re-exports every type of the contract from the file of
 * its part: `workflow-rows.ts` (what is stored), `workflow-writes.ts` (what
 * the core methods are given), `children.ts`, `inspection.ts`,
 * `event-store.ts` and `schedule-store.ts` (the capabilities' own types).
 *
 * @module
 */
import type { ScheduleStore } from "./schedule-store.js"
import type { EventStore } from "./event-store.js"
import type { AwaitChildren } from "./children.js"
import type { EndSeriesCount, EndSeriesRequest, EndedWorkflowsSelector, StatsRequest, WorkflowFilter, WorkflowStats } from "./inspection.js"
import type { WorkflowRow, WorkflowStatus, WorkflowWithTasks } from "./workflow-rows.js"
import type { ClaimRequest, LeaseRelease, LeaseRenewal, NewWorkflow, RetryRequest, WorkflowWrite } from "./workflow-writes.js"

export { STEP_KINDS, WORKFLOW_STATUSES } from "./workflow-rows.js"
export type { EndedStatus, StepKind, TaskRow, TaskStatus, WorkflowRow, WorkflowStatus, WorkflowWithTasks } from "./workflow-rows.js"
export type {
  ClaimRequest,
  CrashCounts,
  EndWorkflow,
  LeaseGrant,
  LeaseRelease,
  LeaseRenewal,
  MarkCrash,
  NewTask,
  NewWorkflow,
  ParentLink,
  ParkUntil,
  RecordTask,
  RetryRequest,
  TaskChange,
  WorkflowWrite,
  WriteBase,
} from "./workflow-writes.js"
export { NEVER } from "./children.js"
export type { AwaitChildren } from "./children.js"
export type { EndSeriesCount, EndSeriesRequest, EndedWorkflowsSelector, StatsRequest, WorkflowFilter, WorkflowStats } from "./inspection.js"

export type {
  NewSchedule,
  OverlapPolicy,
  ScheduleAdvance,
  ScheduleAdvanceOutcome,
  ScheduleDeclareOutcome,
  ScheduleFilter,
  ScheduleRow,
  ScheduleStore,
} from "./schedule-store.js"
export type { EventFilter, EventLookup, EventRow, EventStore, NewEvent, ParkForEvent, ParkForEventOutcome, SentEventRow } from "./event-store.js"

/** The version of this contract; a provider declares the one it implements in {@link StorageCapabilities}. */
export const STORAGE_CONTRACT_VERSION = 1

/**
 * A part of the contract beyond the core methods. Each has its own part of
 * the conformance suite, run only for providers that declare it.
 * - `core`: every required method (always).
 * - `crash-counts`: claims count `recoveries`, updates store `crashes`
 *   (needed by the runner's crash-loop protection, `maxCrashes`).
 * - `status-reads`: `getWorkflowStatuses` (cancels from other processes
 *   reach running tasks within a poll; `result()` polls in one read).
 * - `notifications`: `onWorkAvailable`, `onWorkflowsCancelled`,
 *   `onWorkflowsEnded` tell of other processes' changes at once.
 * - `schedules`: `schedules`, a {@link ScheduleStore} (cron schedules that
 *   fire exactly once across runners).
 * - `inspection`: the filter fields of `listWorkflows` beyond status and
 *   `afterID`, `getWorkflowStats`, `countEndedWorkflows` and
 *   `deleteEndedWorkflowsByStatus` (the CLI and the dashboard).
 * - `waits`: steps that wait (`sleep`): inserts store each task's `kind`,
 *   reads return `kind` and `wakeAt`, and writes store a task change's
 *   `wakeAt`. The waiting itself is a `parkUntil` write, so it needs nothing
 *   else.
 * - `events`: `events`, an {@link EventStore} (sendEvent, and the
 *   `waitForEvent` step: inserts store a task's `event`, writes store a task
 *   change's `eventSeq`). Needs `waits`.
 * - `children`: child workflows. Inserts store a workflow's `parent` link and
 *   reads return `parentID`; `awaitChildren` parks a parent; an
 *   `endWorkflow` write (and a cancel) of a workflow with a parent makes the
 *   parent claimable at once, in the same transaction, if it is parked; and
 *   `cancelWorkflow` cancels the pending descendants of the workflow too.
 * - `attempt-history`: writes store a task change's `startedAt`, `runnerID`
 *   (with the write's `now` as `endedAt`) and `history` when given, and keep
 *   the stored ones when not; reads (claims too) return them. The dashboard
 *   and `durabletasks show` list each task's attempts from them.
 */
export type StorageCapability =
  | "core"
  | "crash-counts"
  | "status-reads"
  | "notifications"
  | "schedules"
  | "inspection"
  | "waits"
  | "events"
  | "children"
  | "attempt-history"

/** What a provider implements: a contract version and its capabilities. */
export interface StorageCapabilities {
  /** The contract version implemented ({@link STORAGE_CONTRACT_VERSION} for this library's providers). */
  readonly contract: number
  /** The parts of the contract it implements; `core` is implied. */
  readonly supports: readonly StorageCapability[]
}

/**
 * The storage a WorkflowRunner runs on.
 *
 * Rules every implementation keeps (proved by the conformance suite):
 * - Each method is atomic: every row it changes changes together or not at all.
 * - Writes that change a workflow's state are fenced by its lease token.
 * - Methods never read a clock; `now` comes from the caller.
 */
export interface StorageProvider {
  /**
   * Optional: the contract version and capabilities this provider implements.
   * Without it, the provider is taken to implement contract 1 with `core`,
   * plus whichever optional methods it has.
   */
  readonly capabilities?: StorageCapabilities

  /** Creates tables and indexes if missing. Idempotent; called by the runner before first use. */
  init(): Promise<void>

  /** Releases connections and files. No method is called after it. */
  close(): Promise<void>

  /**
   * Inserts each workflow and all its tasks atomically, `pending`. A workflow
   * whose ID exists already is left exactly as it is. Returns, per input, `true`
   * if it was inserted and `false` if it existed.
   */
  insertWorkflowsAndTasks(workflows: NewWorkflow[]): Promise<boolean[]>

  /**
   * Leases up to `limit` pending workflows that are claimable at `now`
   * (`availableAt <= now`, or, with `reclaimOwn`, leased to `lease.owner` under
   * another token), earliest `availableAt` first, and returns them with all
   * their tasks. Two concurrent claims never return the same workflow. A
   * workflow taken over from a lease that is still recorded (not released)
   * has its `recoveries` counted up by one, and is returned counted.
   */
  claimWorkflows(claim: ClaimRequest): Promise<WorkflowWithTasks[]>

  /**
   * Extends the leases that `token` still holds on the given workflows to
   * `expiresAt`, in one write. Returns the IDs it renewed; a missing ID is a
   * lease the runner has lost.
   */
  renewLeases(renewal: LeaseRenewal): Promise<string[]>

  /** Drops the leases `token` holds on the given workflows (graceful stop). */
  releaseLeases(release: LeaseRelease): Promise<void>

  /**
   * Applies each fenced write atomically, in order (see {@link WorkflowWrite};
   * a batch may hold several writes of one workflow, each fenced by the state
   * the previous one left). Returns, per input, `true` if applied and `false`
   * if fenced off.
   */
  applyWorkflowWrites(writes: WorkflowWrite[]): Promise<boolean[]>

  /** Reads one workflow with its tasks, or `null` if there is none. */
  getWorkflow(id: string): Promise<WorkflowWithTasks | null>

  /**
   * Lists workflows without their tasks, in ID order (or newest first, with
   * `inspection`). A provider without `inspection` is never given the filter
   * fields marked so.
   */
  listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]>

  /**
   * Sets a `pending` workflow to `cancelled` and clears its lease, whoever
   * holds it. Returns `false` if there is no pending workflow with that ID.
   * With `children`: its pending descendants are cancelled with it, and its
   * parent, if parked, becomes claimable at `now`.
   */
  cancelWorkflow(id: string, now: number): Promise<boolean>

  /**
   * Optional (`children`): in one transaction, fenced like a
   * {@link WorkflowWrite} (the workflow must be `pending` and leased under
   * `token`): locks the given children (so a child that is ending is seen
   * ended), applies the task changes, and parks the workflow with no lease,
   * claimable at `now` if one of the children has ended (or is no longer
   * stored: it ended and was deleted), else at `availableAt`. Returns the time it is claimable from, or `null` if fenced
   * off (nothing changed).
   */
  awaitChildren?(park: AwaitChildren): Promise<number | null>

  /**
   * Resumes a `failed` workflow: it becomes `pending`, unleased and claimable
   * at `now`, with `counts` as its counters, and its task `resumeSeq` becomes
   * `pending` with its error kept and attempts reset to 0 (if that task is
   * `failed`). Returns `false` if there is no failed workflow with that ID.
   */
  retryWorkflow(retry: RetryRequest): Promise<boolean>

  /**
   * Deletes workflows (and their tasks) that have ended (`completed`, `failed`,
   * `cancelled`) and whose `updatedAt` is before `endedBefore`. Pending
   * workflows are never deleted. Returns how many workflows were deleted.
   */
  deleteEndedWorkflows(endedBefore: number): Promise<number>

  /**
   * Optional (`inspection`): counts by status, the oldest pending workflow,
   * and how many ended since `endedSince`, as of one moment where the store
   * allows.
   */
  getWorkflowStats?(request: StatsRequest): Promise<WorkflowStats>

  /**
   * Optional (`inspection`, added after the rest of it, so a provider that
   * declares `inspection` may lack it; the client then refuses
   * `getWorkflowThroughput`): how many workflows ended with each status in
   * each interval from `since` on (by `updatedAt`, as `endedSince` counts),
   * the chart of the dashboard's overview. Returns only non-zero counts, in
   * any order.
   */
  countEndsByInterval?(request: EndSeriesRequest): Promise<EndSeriesCount[]>

  /** Optional (`inspection`): how many workflows {@link deleteEndedWorkflowsByStatus} would delete now. */
  countEndedWorkflows?(selector: EndedWorkflowsSelector): Promise<number>

  /**
   * Optional (`inspection`): {@link deleteEndedWorkflows} for the given ended
   * statuses only. Pending workflows are never deleted. Returns how many
   * workflows were deleted.
   */
  deleteEndedWorkflowsByStatus?(selector: EndedWorkflowsSelector): Promise<number>

  /**
   * Optional (with `getWorkflowStatuses`, part of `status-reads`): reads the
   * given workflows with their tasks in one call, each as
   * {@link getWorkflow} would; IDs with no workflow are left out. Callers
   * pass at most 10,000 IDs.
   */
  getWorkflows?(ids: string[]): Promise<WorkflowWithTasks[]>

  /**
   * Optional: calls `listener` when workflows may have ended because of
   * another process (completed, failed, cancelled). Waiters of results use it
   * to look at once instead of at their next poll; a missed call only delays
   * them. Returns an unsubscribe function.
   */
  onWorkflowsEnded?(listener: () => void): () => void

  /**
   * Optional: calls `listener` when claimable work may have appeared because of
   * another process (an insert, a released lease, a retry). Providers shared by
   * several processes use it to wake idle runners (Postgres LISTEN/NOTIFY);
   * runners also poll, so a missed call only delays work. Returns an
   * unsubscribe function.
   */
  onWorkAvailable?(listener: () => void): () => void

  /**
   * Optional: the status of each of the given workflows, in one cheap read.
   * Returns one entry per distinct ID that exists, in any order; IDs with no
   * workflow are left out. Callers pass at most 10,000 IDs. Runners call it
   * on every poll with the IDs they are executing, to stop tasks of
   * workflows cancelled from another process within a poll interval, and
   * `result()` with the IDs it waits for. Without it, such a cancel reaches
   * the running task at the next lease renewal (`heartbeatMS`), and waiting
   * for results elsewhere reads each workflow on its own.
   */
  getWorkflowStatuses?(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>>

  /**
   * Optional: calls `listener` with the IDs of workflows as they are
   * cancelled, by any process sharing the store (Postgres LISTEN/NOTIFY), so
   * a runner can stop their running tasks at once. Best effort: runners also
   * poll {@link StorageProvider.getWorkflowStatuses}, so a missed call only
   * delays the stop. Returns an unsubscribe function.
   */
  onWorkflowsCancelled?(listener: (ids: string[]) => void): () => void

  /**
   * Optional (the `schedules` capability): where schedules are stored and
   * advanced; see {@link ScheduleStore}.
   */
  readonly schedules?: ScheduleStore

  /** Optional (the `events` capability): where events are stored and waited for; see {@link EventStore}. */
  readonly events?: EventStore

  /**
   * Optional: how many write batches (inserts, and task status updates) the
   * runner may have in flight at once; default 1. Storage reached over a
   * network sets more, so the runner goes on batching while a batch's round
   * trip is under way. Batches in flight at once never hold writes of the
   * same workflow, so a provider need not order them.
   */
  readonly writeBatchesInFlight?: number
}
