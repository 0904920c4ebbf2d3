/**
 * The options of a WorkflowRunner and of its `stop`, with their defaults.
 *
 * @module
 */
import type { Logger } from "./logger.js"
import type { StorageProvider } from "./storage/provider.js"
import type { RetryPolicy } from "./task.js"
import type { AnyTaskRunner } from "./workflow-input.js"

/** Options of a `WorkflowRunner`. */
export interface WorkflowRunnerOptions<Runners extends readonly AnyTaskRunner[] = readonly AnyTaskRunner[]> {
  /** The task runners this process can execute. Names must be unique. */
  taskRunners: Runners
  /** Where workflows are stored. */
  storageProvider: StorageProvider
  /** Delay before retrying a task that threw an unexpected error. Default 5,000 ms. */
  retryDelayMS?: number
  /** Default retry policy for runners without their own. Default: fixed `retryDelayMS`, unlimited attempts. */
  retry?: RetryPolicy
  /** Where to log; nothing is logged without one. */
  logger?: Logger
  /**
   * This runner's identity in leases. Default `"local"`. Runners sharing one
   * store need distinct IDs; a restart with the same ID takes back its
   * earlier life's workflows at once.
   */
  runnerID?: string
  /** How long a lease lasts without renewal. Default 30,000 ms. */
  leaseMS?: number
  /** How often leases are renewed. Default `leaseMS / 3`. */
  heartbeatMS?: number
  /** Most workflows executed at once by this process. Default 100. */
  concurrency?: number
  /** How often storage is polled for claimable work (retries due, expired leases). Default 1,000 ms. */
  pollIntervalMS?: number
  /** Largest JSON of a task's data or result, in bytes. Default 1 MiB. */
  maxPayloadBytes?: number
  /**
   * When set, ended workflows whose last change is older than this are
   * deleted periodically. Pending workflows are never deleted.
   */
  retentionMS?: number
  /**
   * How long events are kept (providers with `events`): a waiting step takes
   * only events still stored, so a workflow that reaches its wait later than
   * this after the event was sent misses it. Default 7 days.
   */
  eventRetentionMS?: number
  /**
   * Crash-loop protection: a workflow taken over twice in a row from a runner
   * that died (or lost its lease) with no progress between runs its next task
   * on its own, and is failed after its runner has died this many times while
   * that task ran. Stops a task that calls `process.exit`, throws where
   * nothing catches, or runs out of memory from taking runners down forever.
   * `retryWorkflow` runs it again. Default 5; `Infinity` turns it off.
   */
  maxCrashes?: number
  /** The clock, for tests. Default `Date.now`. */
  clock?: () => number
}

/** Every key of {@link WorkflowRunnerOptions}: the compiler checks that none is missing, the constructor refuses others. */
export const RUNNER_OPTION_KEYS = Object.keys({
  taskRunners: true,
  storageProvider: true,
  retryDelayMS: true,
  retry: true,
  logger: true,
  runnerID: true,
  leaseMS: true,
  heartbeatMS: true,
  concurrency: true,
  pollIntervalMS: true,
  maxPayloadBytes: true,
  retentionMS: true,
  eventRetentionMS: true,
  maxCrashes: true,
  clock: true,
} satisfies Record<keyof WorkflowRunnerOptions, true>)

/** Options of `WorkflowRunner.stop`. */
export interface StopOptions {
  /** How long in-flight tasks may take to finish before their signals fire. Default 10,000 ms. */
  timeoutMS?: number
  /** Close the storage provider once stopped. Default `true`. */
  closeStorage?: boolean
}

/** Every key of {@link StopOptions}. */
export const STOP_OPTION_KEYS = Object.keys({ timeoutMS: true, closeStorage: true } satisfies Record<keyof StopOptions, true>)
