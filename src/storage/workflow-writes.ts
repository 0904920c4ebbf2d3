/**
 * What the runner passes to the core methods of the storage contract: new
 * workflows and their tasks, claims and leases, and the fenced writes of a
 * workflow's state, one kind per change.
 *
 * @module
 */
import type { StepKind, TaskStatus } from "./workflow-rows.js"

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
