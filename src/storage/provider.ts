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
 * @module
 */
import type { ScheduleStore } from "./schedule-store.js"
import type { EventStore } from "./event-store.js"

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

/** Status of a workflow. Only `pending` workflows are ever claimed or run. */
export type WorkflowStatus = "pending" | "completed" | "failed" | "cancelled"

/** Status of a task: `failed` covers both aborted tasks and given-up tasks. */
export type TaskStatus = "pending" | "completed" | "failed"

/**
 * What a step of a workflow is: `task` runs a TaskRunner; `sleep` waits until
 * a wake time (the `waits` capability); `waitForEvent` waits for an event
 * (the `events` capability); `workflow` adds a child workflow and waits for
 * its end (the `children` capability); `parallel` runs the rows that follow
 * it (its members, as many as its data lists) at once (`waits`). Stored with
 * each step; rows written before step kinds existed are tasks.
 */
export type StepKind = "task" | "sleep" | "waitForEvent" | "workflow" | "parallel"

/** Every step kind this library knows. */
export const STEP_KINDS: readonly StepKind[] = ["task", "sleep", "waitForEvent", "workflow", "parallel"]

/** Every workflow status, in the order a listing shows them. */
export const WORKFLOW_STATUSES: readonly WorkflowStatus[] = ["pending", "completed", "failed", "cancelled"]

/** A workflow row as stored. */
export interface WorkflowRow {
  /** User-given or random ID; unique in the store. */
  id: string
  status: WorkflowStatus
  /** When the workflow was inserted. */
  createdAt: number
  /** When the workflow row or one of its tasks last changed. */
  updatedAt: number
  /**
   * When the workflow may next be claimed. While a lease is held this is the
   * lease's expiry; while a retry waits it is the time of the retry.
   */
  availableAt: number
  /** `runnerID` of the lease holder, or `null` when nobody holds a lease. */
  leaseOwner: string | null
  /** Token of the lease holder's process life (the fence), or `null`. */
  leaseToken: string | null
  /** Number of tasks in the workflow. */
  taskCount: number
  /**
   * How many claims in a row took the workflow over from a lease that was
   * never released (its executor died, or lost the lease), with no progress
   * since. Claims count it up; every applied write stores the value its
   * `counts` give (the runner passes 0 for progress). Optional for providers
   * of your own (the `crash-counts` capability): without it, runners cannot
   * tell a workflow that crashes its runner (see the runner's `maxCrashes`).
   */
  recoveries?: number
  /**
   * How many times a runner died while it ran this workflow's task on its
   * own (suspected of crashing it, see the runner's `maxCrashes`). Every
   * applied write stores the value its `counts` give.
   */
  crashes?: number
  /**
   * The workflow whose `workflow` step added this one (`children`), or
   * `null` (or absent) for a workflow added on its own.
   */
  parentID?: string | null
}

/** A task row as stored. `(workflowID, seq)` is unique. */
export interface TaskRow {
  workflowID: string
  /** Position in the workflow, from 0. Tasks run in `seq` order. */
  seq: number
  /** The task's label: its key in `addWorkflow({ tasks })`, or its `name` in the array form. */
  name: string
  /** Name of the TaskRunner that executes it; `""` for a step that is not a task. */
  task: string
  /**
   * JSON text of the task's input; for a step of another kind, its
   * definition as the runner wrote it (a sleep: `{"sleep":ms}` or
   * `{"sleepUntil":"ISO"}`).
   */
  data: string
  /**
   * The step's kind (`waits`). Absent means `task`: a provider without the
   * capability stores tasks only.
   */
  kind?: StepKind
  /**
   * When a waiting step wakes, in ms since the epoch (`waits`): written by
   * the runner when the step is first reached, and kept from then on, so a
   * recovery never restarts a sleep. `null` (or absent) until then.
   */
  wakeAt?: number | null
  status: TaskStatus
  /** JSON text of the stored result once completed, else `null`. */
  result: string | null
  /** Error message of the last failure, or `null`. */
  error: string | null
  /** Number of failed attempts so far (persisted across restarts). */
  attempts: number
  createdAt: number
  updatedAt: number
  /** When the task's last ended attempt started (`attempt-history`); `null` (or absent) before any. */
  startedAt?: number | null
  /** When the task's last ended attempt ended (`attempt-history`); `null` (or absent) before any. */
  endedAt?: number | null
  /** The `runnerID` that ran the task's last ended attempt (`attempt-history`); `null` (or absent) before any. */
  runnerID?: string | null
  /**
   * JSON text of the task's earlier attempts, oldest first (`attempt-history`):
   * what the runner last wrote as {@link TaskChange.history}, or `null`. Read
   * it with `taskAttempts` (durabletasks), which adds the last attempt.
   */
  history?: string | null
}

/** A workflow row with all its tasks, in `seq` order. */
export interface WorkflowWithTasks {
  workflow: WorkflowRow
  tasks: TaskRow[]
}

/** A task as given to {@link StorageProvider.insertWorkflowsAndTasks}. */
export interface NewTask {
  name: string
  /** The TaskRunner's name; `""` for a step that is not a task. */
  task: string
  /** JSON text: the task's input, or a step's definition. */
  data: string
  /**
   * The step's kind; absent means `task`. The runner passes other kinds only
   * to providers that declare `waits`, which store it.
   */
  kind?: StepKind
  /**
   * A `waitForEvent` step's event name and key (`""` for none), which the
   * provider stores with the step together with the watermark (see
   * `event-store.ts`). Present only on steps of that kind (`events`).
   */
  event?: { name: string; key: string }
}

/** A workflow to insert, optionally already leased to its inserter. */
export interface NewWorkflow {
  id: string
  now: number
  /** Tasks in `seq` order (index = seq). */
  tasks: NewTask[]
  /**
   * When set, the workflow is inserted already leased to this runner, which
   * saves the claim round trip for work a runner adds for itself.
   */
  lease?: LeaseGrant
  /**
   * When set (and `lease` is not), the workflow is claimable only from this
   * time: a delayed start. It is stored now, unleased, with `availableAt` set
   * to this value, and holds nothing until then.
   */
  availableAt?: number
  /**
   * The parent link of a child workflow (`children`): the parent's ID and
   * the seq of its step that waits for this child. The runner passes it only
   * to providers that declare `children`, which store it.
   */
  parent?: ParentLink
}

/** Which workflow, and which of its steps, waits for a child workflow. */
export interface ParentLink {
  id: string
  seq: number
}

/**
 * Input of {@link StorageProvider.awaitChildren}: parks a workflow until one
 * of its children ends (or until `availableAt`, the earliest wake time of its
 * other waits), in one fenced transaction.
 */
export interface AwaitChildren extends WriteBase {
  /** The children waited for; each was inserted with this workflow as parent. */
  childIDs: string[]
  /** When to wake if no child ends before; a very large value (see `NEVER`) for no other wait. */
  availableAt: number
  /** Changes of the workflow's steps written with the park (e.g. a waiting step's state). */
  tasks: TaskChange[]
}

/** Who takes a lease, and until when. */
export interface LeaseGrant {
  owner: string
  token: string
  expiresAt: number
}

/** Input of {@link StorageProvider.claimWorkflows}. */
export interface ClaimRequest {
  /** The lease to grant to each claimed workflow. */
  lease: LeaseGrant
  now: number
  /** At most this many workflows are claimed. */
  limit: number
  /**
   * When `true`, pending workflows leased to `lease.owner` under any *other*
   * token are claimable too, whatever their expiry: a restarted runner takes
   * back its earlier life's work at once.
   */
  reclaimOwn: boolean
}

/** A task's new state, as a workflow write carries it. */
export interface TaskChange {
  seq: number
  status: TaskStatus
  /** JSON text, for `completed`; `null` otherwise. */
  result: string | null
  error: string | null
  attempts: number
  /**
   * The step's wake time to store (`waits`); absent stores `null`. The
   * runner passes it with every change of a waiting step, so it is kept.
   */
  wakeAt?: number | null
  /**
   * The seq of the event a `waitForEvent` step took (`events`), stored with
   * the step so its workflow never takes that event again. Absent leaves the
   * stored value as it is.
   */
  eventSeq?: number
  /**
   * When the attempt this change records started (`attempt-history`): stored
   * as the task's `startedAt`, with the write's `now` as its `endedAt`. Absent
   * (a step that is not an attempt) keeps the stored `startedAt`, `endedAt`
   * and `runnerID`.
   */
  startedAt?: number
  /** Who ran the attempt (`attempt-history`), stored as the task's `runnerID` with `startedAt`. */
  runnerID?: string
  /**
   * JSON text to store as the task's `history` (`attempt-history`); absent
   * keeps the stored one. The runner passes it only when an attempt before
   * this one failed or was interrupted, so most writes carry none.
   */
  history?: string
}

/**
 * The crash-loop counters a write stores (see {@link WorkflowRow.recoveries}
 * and {@link WorkflowRow.crashes}). The runner decides them; a provider stores
 * them as given.
 */
export interface CrashCounts {
  recoveries: number
  crashes: number
}

/** What every workflow write has: whose write it is (the fence) and when. */
export interface WriteBase {
  workflowID: string
  /** The writer's lease token: the write applies only if the workflow is `pending` and leased under it. */
  token: string
  now: number
  /** Stored as the workflow's crash-loop counters. */
  counts: CrashCounts
}

/** Records a task's outcome; the workflow goes on, still leased. */
export interface RecordTask extends WriteBase {
  kind: "recordTask"
  task: TaskChange
}

/** Ends the workflow (`completed` or `failed`) with its last task's change, if any, and clears its lease. */
export interface EndWorkflow extends WriteBase {
  kind: "endWorkflow"
  status: "completed" | "failed"
  task?: TaskChange
}

/**
 * Parks the workflow: it stays `pending`, its lease is released, and it is
 * claimable again at `availableAt` (a retry's time, or later for a runner
 * that lacks a task's runner); with a task's change, if any.
 */
export interface ParkUntil extends WriteBase {
  kind: "parkUntil"
  availableAt: number
  task?: TaskChange
}

/** Stores the counters alone (a suspect task is about to run: its attempt is counted first); the lease and tasks stay. */
export interface MarkCrash extends WriteBase {
  kind: "markCrash"
}

/**
 * One fenced write of a workflow's state, one kind per change. It applies
 * only if the workflow is `pending` and its `leaseToken` equals `token`;
 * otherwise nothing at all changes (the writer lost the lease). Every kind
 * stores `now` as the workflow's `updatedAt` (and the task's) and `counts`
 * as its counters.
 */
export type WorkflowWrite = RecordTask | EndWorkflow | ParkUntil | MarkCrash

/** Input of {@link StorageProvider.retryWorkflow}. */
export interface RetryRequest {
  id: string
  now: number
  /** The failed task to run again (pending, attempts 0, its error kept); the runner picks it. */
  resumeSeq: number
  /** Stored as the workflow's counters. */
  counts: CrashCounts
}

/** Input of {@link StorageProvider.renewLeases}. */
export interface LeaseRenewal {
  token: string
  /** Workflows whose leases the runner holds. */
  workflowIDs: string[]
  expiresAt: number
}

/** Input of {@link StorageProvider.releaseLeases}. */
export interface LeaseRelease {
  token: string
  workflowIDs: string[]
  /** The released workflows are claimable from this time. */
  availableAt: number
}

/** Filter of {@link StorageProvider.listWorkflows}. */
export interface WorkflowFilter {
  status?: WorkflowStatus
  /** Only workflows whose ID sorts after this (keyset pagination). */
  afterID?: string
  /** At most this many rows; the provider may cap it. */
  limit: number
  /** Only workflows with a task run by the TaskRunner of this name (`inspection`). */
  runner?: string
  /** Only workflows created at or after this time (`inspection`). */
  createdAfter?: number
  /** Only workflows created before this time (`inspection`). */
  createdBefore?: number
  /** Only workflows whose ID starts with this (`inspection`). */
  idPrefix?: string
  /**
   * `"id"` (default): ID order, continued by `afterID`. `"newest"`
   * (`inspection`): newest `createdAt` first, equal times by ID descending,
   * continued by `cursor`.
   */
  order?: "id" | "newest"
  /** With `order: "newest"`: only workflows after this one in that order (the last row of the previous page). */
  cursor?: { createdAt: number; id: string }
}

/** The statuses of a workflow that has ended. */
export type EndedStatus = Exclude<WorkflowStatus, "pending">

/** Input of {@link StorageProvider.getWorkflowStats}. */
export interface StatsRequest {
  /** Workflows that ended at or after this time (by `updatedAt`) are counted in `endedSince`. */
  endedSince: number
}

/** What {@link StorageProvider.getWorkflowStats} returns. */
export interface WorkflowStats {
  /** How many workflows have each status (every status present, 0 when none). */
  counts: Record<WorkflowStatus, number>
  /** The pending workflow created first, or `null` when none is pending. */
  oldestPending: { id: string; createdAt: number } | null
  /** How many workflows have ended with each status since `endedSince` (every ended status present). */
  endedSince: Record<EndedStatus, number>
}

/** Input of {@link StorageProvider.countEndsByInterval}. */
export interface EndSeriesRequest {
  /** The start of the first interval: workflows that ended (by `updatedAt`) at or after it count. */
  since: number
  /** The length of each interval, a whole number of ms >= 1. */
  intervalMS: number
}

/** How many workflows ended with one status within one interval. */
export interface EndSeriesCount {
  /** The interval's start: `since + k × intervalMS`. */
  start: number
  status: EndedStatus
  /** At least 1: intervals with none are left out. */
  count: number
}

/** Which ended workflows {@link StorageProvider.countEndedWorkflows} and {@link StorageProvider.deleteEndedWorkflowsByStatus} mean. */
export interface EndedWorkflowsSelector {
  /** Only workflows whose `updatedAt` is before this. */
  endedBefore: number
  /** Only workflows with one of these statuses (an empty list selects none). */
  statuses: readonly EndedStatus[]
}

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

/** The `availableAt` of a workflow that waits only for its children: never claimable by time (a child's end wakes it). */
export const NEVER = 8_640_000_000_000_000

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
   * Optional: the statuses of the given workflows, in one read; IDs with no
   * workflow are left out. Callers pass at most 10,000 IDs. Without it,
   * waiting for results elsewhere reads each workflow on its own.
   */
  getWorkflowStatuses?(ids: string[]): Promise<Array<{ id: string; status: WorkflowStatus }>>

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
   * workflow are left out. Runners call it on every poll with the IDs they
   * are executing, to stop tasks of workflows cancelled from another process
   * within a poll interval. Without it, such a cancel reaches the running
   * task at the next lease renewal (`heartbeatMS`).
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
