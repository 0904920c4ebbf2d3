/**
 * The storage contract of events (the `events` capability): a provider that
 * has it exposes an {@link EventStore} as `provider.events`.
 *
 * Events are rows of their own, numbered by `seq` in the store's commit
 * order for each (name, key). A `waitForEvent` step is a task row of kind
 * `waitForEvent` that also holds, from its insert on, the (name, key) it
 * waits for and the sequence watermark of that pair when its workflow was
 * added (`NewTask.event`): it may take only events numbered above it. Once
 * it takes one, the task change that completes it carries the event's seq
 * (`TaskChange.eventSeq`), stored with the step, so the workflow never takes
 * that event again.
 *
 * Sending an event and parking a workflow for one are serialized per
 * (name, key): a send either commits before a park (and the park sees the
 * event and does not park) or after it (and wakes the parked workflow, in
 * its own transaction). Like the rest of the contract, nothing here reads a
 * clock: every time comes from the caller.
 *
 * @module
 */
import type { CrashCounts } from "./workflow-writes.js"

/** An event to store, checked by the caller. */
export interface NewEvent {
  name: string
  /** `""` for an event without a key. */
  key: string
  /** JSON text. */
  payload: string
  /** Unique in the store: a second send with the same ID stores nothing. */
  eventID: string
  /** Stored as the event's `sentAt`. */
  now: number
}

/** An event as stored. */
export interface EventRow {
  /** Its place in the store's commit order (increasing per name and key). */
  seq: number
  name: string
  /** `""` for an event without a key. */
  key: string
  /** JSON text. */
  payload: string
  eventID: string
  sentAt: number
}

/** What {@link EventStore.sendEvent} returns. */
export interface SentEventRow {
  /** The stored event: the new one, or the one stored earlier with the same `eventID`. */
  event: EventRow
  /** `false` when an event with this `eventID` existed (nothing was stored or woken). */
  created: boolean
  /** How many parked workflows this send made claimable now. */
  woken: number
}

/** Which event a waiting step may take: see {@link EventStore.findEvent}. */
export interface EventLookup {
  workflowID: string
  /** The seq of the `waitForEvent` step. */
  seq: number
}

/**
 * Parks a workflow at its `waitForEvent` step, unless an event it may take
 * has arrived: fenced by the lease token like every workflow write.
 */
export interface ParkForEvent {
  workflowID: string
  /** The writer's lease token (the fence). */
  token: string
  now: number
  counts: CrashCounts
  /** The `waitForEvent` step. */
  seq: number
  /** Its attempts, kept. */
  attempts: number
  /** The step's deadline (its timeout), stored as its `wakeAt`; the workflow is claimable again then. */
  wakeAt: number
}

/** What {@link EventStore.parkForEvent} did. */
export type ParkForEventOutcome =
  /** Parked: no lease, claimable at `wakeAt`, or sooner when a matching event is sent. */
  | "parked"
  /** Nothing changed: an event the step may take is stored; the caller still holds the lease and takes it. */
  | "eventArrived"
  /** Nothing changed: the workflow is not pending under this token. */
  | "fenced"

/**
 * Parks a workflow at a parallel step with waitForEvent members, unless an
 * event one of them may take has arrived: fenced by the lease token.
 */
export interface ParkForEvents {
  workflowID: string
  /** The writer's lease token (the fence). */
  token: string
  now: number
  counts: CrashCounts
  /** The waiting `waitForEvent` member rows; each has stored its deadline as its `wakeAt` already. */
  seqs: readonly number[]
  /** When the workflow is claimable again (the earliest of its members' wake times). */
  availableAt: number
}

/** Filter of {@link EventStore.listEvents}. */
export interface EventFilter {
  name?: string
  /** Only with `name`. */
  key?: string
  /** Only events with a larger seq (keyset pagination). */
  afterSeq?: number
  /** At most this many rows. */
  limit: number
}

/** The events of a store (the `events` capability). */
export interface EventStore {
  /**
   * Stores an event, unless one with its `eventID` exists (then returns
   * that one, `created: false`, and changes nothing). In the same
   * transaction, makes claimable at `now` every workflow parked (unleased,
   * pending) at a `waitForEvent` step whose name and key equal the event's
   * and whose watermark is below its seq.
   */
  sendEvent(event: NewEvent): Promise<SentEventRow>

  /**
   * The earliest event (lowest seq) the given `waitForEvent` step may take:
   * same name and key, seq above the step's watermark, and not taken by
   * another step of its workflow. `null` if there is none.
   */
  findEvent(lookup: EventLookup): Promise<EventRow | null>

  /**
   * Parks the workflow for its `waitForEvent` step: in one transaction,
   * serialized with {@link sendEvent} for the step's name and key, checks
   * that no event the step may take is stored (else changes nothing:
   * `eventArrived`), then releases the lease, sets the workflow claimable
   * at `wakeAt` and stores `wakeAt` on the step (clearing its `error`: a
   * wait resumed by `retryWorkflow` waits anew), fenced by the token.
   */
  parkForEvent(park: ParkForEvent): Promise<ParkForEventOutcome>

  /**
   * Parks the workflow at a parallel step whose `waitForEvent` members
   * `seqs` wait: in one transaction, serialized with {@link sendEvent} for
   * every member's name and key (taken in a fixed order), checks that no
   * member may take a stored event (else changes nothing: `eventArrived`),
   * then releases the lease and sets the workflow claimable at
   * `availableAt`, fenced by the token. A send after it wakes the workflow,
   * as for a single step (the members' rows are pending with a `wakeAt`).
   */
  parkForEvents(park: ParkForEvents): Promise<ParkForEventOutcome>

  /** Lists events in seq order. */
  listEvents(filter: EventFilter): Promise<EventRow[]>

  /** Deletes events sent before `sentBefore`; returns how many. */
  deleteEventsSentBefore(sentBefore: number): Promise<number>
}
