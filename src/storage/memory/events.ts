/**
 * Events in memory: the {@link EventStore} of the memory provider. One
 * process, one thread: a send and a park never interleave.
 *
 * @module
 */
import type { EventFilter, EventLookup, EventRow, EventStore, NewEvent, ParkForEvent, ParkForEventOutcome, ParkForEvents, SentEventRow } from "../event-store.js"
import type { WorkflowWithTasks } from "../provider.js"

/** What a waitForEvent step holds besides its row: what it waits for, its watermark, the event it took. */
interface WaitColumns {
  workflowID: string
  seq: number
  name: string
  key: string
  after: number
  taken: number | null
}

/** What {@link MemoryEventStore} needs from its provider. */
export interface MemoryEventStoreOptions {
  /** The stored workflow (not a copy), if any. */
  workflow(id: string): WorkflowWithTasks | undefined
  assertOpen(): void
}

/** The {@link EventStore} of a {@link MemoryStorageProvider}. */
export class MemoryEventStore implements EventStore {
  private readonly events: EventRow[] = []
  private readonly byEventID = new Map<string, EventRow>()
  /** The last seq given: never reused, even after retention deleted the newest events. */
  private lastSeq = 0
  /** By `${workflowID}\0${seq}`. */
  private readonly steps = new Map<string, WaitColumns>()
  /** Steps by `${name}\0${key}`, for waking them. */
  private readonly waiting = new Map<string, Set<WaitColumns>>()

  constructor(private readonly o: MemoryEventStoreOptions) {}

  /** At insert: a waitForEvent step's (name, key) and watermark. */
  storeWatermark(workflowID: string, seq: number, event: { name: string; key: string }): void {
    let after = 0
    for (const e of this.events) if (e.name === event.name && e.key === event.key) after = e.seq
    const step: WaitColumns = { workflowID, seq, name: event.name, key: event.key, after, taken: null }
    this.steps.set(`${workflowID}\u0000${seq}`, step)
    const pair = `${event.name}\u0000${event.key}`
    let set = this.waiting.get(pair)
    if (!set) this.waiting.set(pair, (set = new Set()))
    set.add(step)
  }

  /** With a task change: the event a step took. */
  storeTaken(workflowID: string, seq: number, eventSeq: number): void {
    const step = this.steps.get(`${workflowID}\u0000${seq}`)
    if (!step) return
    step.taken = eventSeq
    this.waiting.get(`${step.name}\u0000${step.key}`)?.delete(step)
  }

  /** The workflow was deleted: forget its steps. */
  forget(workflowID: string, taskCount: number): void {
    for (let seq = 0; seq < taskCount; seq++) {
      const step = this.steps.get(`${workflowID}\u0000${seq}`)
      if (!step) continue
      this.steps.delete(`${workflowID}\u0000${seq}`)
      this.waiting.get(`${step.name}\u0000${step.key}`)?.delete(step)
    }
  }

  async sendEvent(event: NewEvent): Promise<SentEventRow> {
    this.o.assertOpen()
    const existing = this.byEventID.get(event.eventID)
    if (existing) return { event: { ...existing }, created: false, woken: 0 }
    const row: EventRow = {
      seq: ++this.lastSeq,
      name: event.name,
      key: event.key,
      payload: event.payload,
      eventID: event.eventID,
      sentAt: event.now,
    }
    this.events.push(row)
    this.byEventID.set(row.eventID, row)
    let woken = 0
    for (const step of this.waiting.get(`${event.name}\u0000${event.key}`) ?? []) {
      const entry = this.o.workflow(step.workflowID)
      const task = entry?.tasks[step.seq]
      const w = entry?.workflow
      if (!w || !task || w.status !== "pending" || w.leaseToken !== null || w.availableAt <= event.now) continue
      if (task.status !== "pending" || typeof task.wakeAt !== "number" || step.after >= row.seq) continue
      w.availableAt = event.now
      woken++
    }
    return { event: { ...row }, created: true, woken }
  }

  async findEvent(lookup: EventLookup): Promise<EventRow | null> {
    this.o.assertOpen()
    const found = this.find(lookup.workflowID, lookup.seq)
    return found ? { ...found } : null
  }

  async parkForEvent(park: ParkForEvent): Promise<ParkForEventOutcome> {
    this.o.assertOpen()
    if (this.find(park.workflowID, park.seq)) return "eventArrived"
    const entry = this.o.workflow(park.workflowID)
    const task = entry?.tasks[park.seq]
    if (!entry || !task || entry.workflow.status !== "pending" || entry.workflow.leaseToken !== park.token) return "fenced"
    Object.assign(entry.workflow, { leaseOwner: null, leaseToken: null, availableAt: park.wakeAt, updatedAt: park.now, ...park.counts })
    Object.assign(task, { wakeAt: park.wakeAt, attempts: park.attempts, error: null, updatedAt: park.now })
    return "parked"
  }

  async parkForEvents(park: ParkForEvents): Promise<ParkForEventOutcome> {
    this.o.assertOpen()
    if (park.seqs.some((seq) => this.find(park.workflowID, seq))) return "eventArrived"
    const entry = this.o.workflow(park.workflowID)
    if (!entry || entry.workflow.status !== "pending" || entry.workflow.leaseToken !== park.token) return "fenced"
    Object.assign(entry.workflow, { leaseOwner: null, leaseToken: null, availableAt: park.availableAt, updatedAt: park.now, ...park.counts })
    return "parked"
  }

  async listEvents(filter: EventFilter): Promise<EventRow[]> {
    this.o.assertOpen()
    return this.events
      .filter((e) => e.seq > (filter.afterSeq ?? 0) && (filter.name === undefined || e.name === filter.name) && (filter.key === undefined || e.key === filter.key))
      .slice(0, filter.limit)
      .map((e) => ({ ...e }))
  }

  async deleteEventsSentBefore(sentBefore: number): Promise<number> {
    this.o.assertOpen()
    let deleted = 0
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i] as EventRow
      if (e.sentAt < sentBefore) {
        this.events.splice(i, 1)
        this.byEventID.delete(e.eventID)
        deleted++
      }
    }
    return deleted
  }

  private find(workflowID: string, seq: number): EventRow | undefined {
    const step = this.steps.get(`${workflowID}\u0000${seq}`)
    if (!step) return undefined
    const taken = new Set<number>()
    const entry = this.o.workflow(workflowID)
    for (let s = 0; s < (entry?.tasks.length ?? 0); s++) {
      const t = this.steps.get(`${workflowID}\u0000${s}`)?.taken
      if (typeof t === "number") taken.add(t)
    }
    return this.events.find((e) => e.name === step.name && e.key === step.key && e.seq > step.after && !taken.has(e.seq))
  }
}
