/**
 * Group commit: writes that arrive together are committed in one call (one
 * transaction), and each caller's promise settles only after that call, so
 * nothing is acknowledged before it is durable.
 *
 * Up to `maxInFlight` batches are in flight at a time; what arrives meanwhile
 * forms the next batch. Under load batches grow by themselves, and each fsync
 * serves many writers. With more than one batch in flight (storage reached
 * over a network, where a batch's round trip would otherwise leave the runner
 * idle), batches in flight never share a key: a write whose key (its
 * workflow) is in a batch in flight waits for that batch to settle, so the
 * writes of one workflow are committed in the order they were submitted.
 *
 * With `isolateFailures`, a batch that fails is committed again in halves, so
 * that an error caused by one item (a value the store refuses) reaches only
 * that item's caller; see {@link GroupCommitter.isolate}.
 */
export class GroupCommitter<In, Out> {
  private queue: Array<Entry<In, Out>> = []
  private inFlight = 0
  /** Keys of the items in batches in flight (only kept when more than one batch may be in flight). */
  private readonly keysInFlight = new Set<string>()
  private scheduled = false
  private readonly maxBatch: number
  private readonly maxInFlight: number
  private readonly keyOf: (item: In) => string
  private readonly isolateFailures: boolean

  /**
   * @param commit - writes all items atomically and returns one output per item, in order. `afterFailure` is
   *   `true` when the items are being committed again because a batch holding them failed (that failed call
   *   may still have taken effect, if only its reply was lost)
   * @param options.maxBatch - largest batch handed to `commit` (default 2,000)
   * @param options.maxInFlight - how many batches may be in flight at once (default 1)
   * @param options.keyOf - the key whose writes must stay in order (needed when `maxInFlight` > 1 or with `isolateFailures`)
   * @param options.isolateFailures - commit a failed batch again in halves, so that an item's own error reaches only
   *   its caller (default `false`: every caller of a failed batch gets its error). Only for writes that are safe to
   *   commit twice
   */
  constructor(
    private readonly commit: (items: In[], afterFailure: boolean) => Promise<Out[]>,
    options: { maxBatch?: number; maxInFlight?: number; keyOf?: (item: In) => string; isolateFailures?: boolean } = {},
  ) {
    this.isolateFailures = options.isolateFailures ?? false
    this.maxBatch = options.maxBatch ?? 2000
    this.maxInFlight = options.maxInFlight ?? 1
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be an integer >= 1, got ${String(options.maxInFlight)}`)
    }
    if (this.maxInFlight > 1 && !options.keyOf) throw new TypeError("keyOf is required when maxInFlight > 1")
    if (this.isolateFailures && !options.keyOf) throw new TypeError("keyOf is required with isolateFailures")
    this.keyOf = options.keyOf ?? (() => "")
  }

  /** Queues `item`; resolves with its output once its batch is committed. */
  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.schedule()
    })
  }

  /** Items waiting or in flight: none when idle. */
  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === 0
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight) return
    this.scheduled = true
    // setImmediate, not a microtask: lets every executor that finishes in this
    // turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false
      this.flush()
    })
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.takeBatch()
      if (batch.length === 0) return
      void this.run(batch)
    }
  }

  /** Takes the next batch off the queue: in submission order, skipping items whose key is in a batch in flight. */
  private takeBatch(): Array<Entry<In, Out>> {
    if (this.maxInFlight === 1) return this.queue.splice(0, this.maxBatch)
    const batch: Array<Entry<In, Out>> = []
    const keys: string[] = []
    const held: Array<Entry<In, Out>> = []
    for (const entry of this.queue) {
      const key = this.keyOf(entry.item)
      if (batch.length < this.maxBatch && !this.keysInFlight.has(key)) {
        batch.push(entry)
        keys.push(key)
      } else {
        held.push(entry)
      }
    }
    this.queue = held
    for (const key of keys) this.keysInFlight.add(key)
    return batch
  }

  private async run(batch: Array<Entry<In, Out>>): Promise<void> {
    this.inFlight++
    try {
      // Settled inline, not through tryCommit: the slot frees in the same turn its callers are resolved.
      try {
        const outputs = await this.commit(batch.map((entry) => entry.item), false)
        batch.forEach((entry, i) => entry.resolve(outputs[i] as Out))
      } catch (error) {
        if (this.isolateFailures && batch.length > 1) await this.isolate(batch)
        else rejectAll(batch, error)
      }
    } finally {
      this.inFlight--
      if (this.maxInFlight > 1) for (const entry of batch) this.keysInFlight.delete(this.keyOf(entry.item))
      if (this.queue.length > 0) this.schedule()
    }
  }

  /**
   * Commits a batch that failed as a whole again, in two halves, one after
   * the other. A half that fails while the other succeeds is split again,
   * until the item at fault is alone and gets its own error: one bad item
   * among n costs about 2·log2(n) calls, and every other item is committed.
   * When both halves fail, the cause is not one item (the store is down, or
   * several items are bad): both halves get their errors without further
   * splitting, so an outage costs two extra calls, not one per item.
   *
   * A failed half is committed again after the half that followed it, so
   * halves never share a key (see {@link GroupCommitter.halves}): each key's
   * writes still commit in the order they were submitted.
   */
  private async isolate(failed: Array<Entry<In, Out>>): Promise<void> {
    const halves = this.halves(failed)
    const failures: Array<{ error: unknown } | undefined> = []
    for (const half of halves) failures.push(await this.tryCommit(half, true))
    const bothFailed = failures.every((f) => f !== undefined)
    for (let i = 0; i < halves.length; i++) {
      const half = halves[i]!
      const failure = failures[i]
      if (failure === undefined) continue
      if (bothFailed || half.length === 1) rejectAll(half, failure.error)
      else await this.isolate(half)
    }
  }

  /**
   * Cuts entries in two halves of about equal size that share no key, each
   * key's entries together and in order. Entries that all have one key split
   * off the first: a half of one entry is never split again, so it is settled
   * before the rest of its key is committed.
   */
  private halves(entries: Array<Entry<In, Out>>): [Array<Entry<In, Out>>, Array<Entry<In, Out>>] {
    const byKey = new Map<string, Array<Entry<In, Out>>>()
    for (const entry of entries) {
      const key = this.keyOf(entry.item)
      const group = byKey.get(key)
      if (group) group.push(entry)
      else byKey.set(key, [entry])
    }
    if (byKey.size === 1) return [entries.slice(0, 1), entries.slice(1)]
    const first: Array<Entry<In, Out>> = []
    const second: Array<Entry<In, Out>> = []
    // The first group always goes first; since there are two groups or more, the second half is never empty.
    for (const group of byKey.values()) {
      if (first.length === 0 || first.length + group.length <= entries.length / 2) first.push(...group)
      else second.push(...group)
    }
    return [first, second]
  }

  /** Commits `entries` and resolves them; on failure returns the error and leaves them unsettled. */
  private async tryCommit(entries: Array<Entry<In, Out>>, afterFailure: boolean): Promise<{ error: unknown } | undefined> {
    let outputs: Out[]
    try {
      outputs = await this.commit(entries.map((entry) => entry.item), afterFailure)
    } catch (error) {
      return { error }
    }
    entries.forEach((entry, i) => entry.resolve(outputs[i] as Out))
    return undefined
  }
}

/** A submitted item and the settlers of its caller's promise. */
interface Entry<In, Out> {
  item: In
  resolve: (out: Out) => void
  reject: (error: unknown) => void
}

function rejectAll<In, Out>(entries: Array<Entry<In, Out>>, error: unknown): void {
  for (const entry of entries) entry.reject(error)
}
