/**
 * The events methods of the client (`sendEvent`, `listEvents`, event
 * retention), over a provider with the `events` capability.
 *
 * @module
 */
import { StorageError, ValidationError } from "./errors.js"
import { fromJSONText } from "./json.js"
import { errorMessage } from "./logger.js"
import { requireCapability } from "./storage/capabilities.js"
import type { EventStore } from "./storage/event-store.js"
import type { StorageCapability, StorageProvider } from "./storage/provider.js"
import type { EventInfo, SendEventInput, SentEvent } from "./steps/spec.js"
import { validatePositiveNumber } from "./validate.js"
import { validateEventName, validateSendEvent } from "./validate-events.js"

/** Filter of `listEvents`. */
export interface ListEventsFilter {
  /** Only events of this name. */
  name?: string
  /** Only events with this key (needs `name`). */
  key?: string
  /** Only events after this seq (the last `seq` of the previous page). */
  afterSeq?: number
  /** At most this many (default 100, at most 1,000). */
  limit?: number
}

/** What the event methods need from their client. */
export interface EventOperationsContext {
  storage: StorageProvider
  capabilities(): ReadonlySet<StorageCapability>
  now(): number
  maxPayloadBytes: number
}

/** `sendEvent`, `listEvents` and event retention for a client. */
export class EventOperations {
  constructor(private readonly c: EventOperationsContext) {}

  /** The provider's event store, or a ValidationError naming `method` when it has none. */
  private store(method: string): EventStore {
    requireCapability(this.c.capabilities(), "events", method)
    return this.c.storage.events as EventStore
  }

  /** Checks `input` (errors to the caller only, nothing stored); returns a function that stores it. */
  prepare(input: SendEventInput): () => Promise<SentEvent> {
    const store = this.store("sendEvent")
    const event = validateSendEvent(input, this.c.maxPayloadBytes, this.c.now())
    return async () => {
      let sent
      try {
        sent = await store.sendEvent(event)
      } catch (error) {
        throw new StorageError(`could not store event "${event.name}" (eventID "${event.eventID}"): ${errorMessage(error)}; sending it again with this eventID is safe`, {
          cause: error,
        })
      }
      return { eventID: sent.event.eventID, sentAt: new Date(sent.event.sentAt), created: sent.created, seq: sent.event.seq, woken: sent.woken }
    }
  }

  /** Lists stored events in the store's order. */
  async list(filter: ListEventsFilter): Promise<EventInfo[]> {
    const store = this.store("listEvents")
    const name = filter.name === undefined ? undefined : validateEventName(filter.name, "name")
    const key = filter.key === undefined ? undefined : validateEventName(filter.key, "key")
    if (key !== undefined && name === undefined) throw new ValidationError("listEvents: a key filter needs a name")
    const limit = Math.min(validatePositiveNumber(filter.limit ?? 100, "limit", { integer: true }), 1_000)
    const afterSeq = filter.afterSeq === undefined ? undefined : validatePositiveNumber(filter.afterSeq, "afterSeq", { allowZero: true, integer: true })
    const rows = await store.listEvents({ name, key, afterSeq, limit })
    return rows.map((r) => ({ seq: r.seq, name: r.name, key: r.key === "" ? null : r.key, payload: fromJSONText(r.payload), eventID: r.eventID, sentAt: new Date(r.sentAt) }))
  }

  /** Deletes events sent more than `olderThanMS` ago; returns how many. */
  async deleteOlderThan(olderThanMS: number): Promise<number> {
    return this.store("event retention").deleteEventsSentBefore(this.c.now() - olderThanMS)
  }
}
