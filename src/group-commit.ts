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
 */
export class GroupCommitter<In, Out> {
  private queue: Array<{ item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }> = []
  private inFlight = 0
  /** Keys of the items in batches in flight (only kept when more than one batch may be in flight). */
  private readonly keysInFlight = new Set<string>()
  private scheduled = false
  private readonly maxBatch: number
  private readonly maxInFlight: number
  private readonly keyOf: (item: In) => string

  /**
   * @param commit - writes all items atomically and returns one output per item, in order
   * @param options.maxBatch - largest batch handed to `commit` (default 2,000)
   * @param options.maxInFlight - how many batches may be in flight at once (default 1)
   * @param options.keyOf - the key whose writes must stay in order (needed when `maxInFlight` > 1)
   */
  constructor(
    private readonly commit: (items: In[]) => Promise<Out[]>,
    options: { maxBatch?: number; maxInFlight?: number; keyOf?: (item: In) => string } = {},
  ) {
    this.maxBatch = options.maxBatch ?? 2000
    this.maxInFlight = options.maxInFlight ?? 1
    if (!Number.isInteger(this.maxInFlight) || this.maxInFlight < 1) {
      throw new RangeError(`maxInFlight must be an integer >= 1, got ${String(options.maxInFlight)}`)
    }
    if (this.maxInFlight > 1 && !options.keyOf) throw new TypeError("keyOf is required when maxInFlight > 1")
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
  private takeBatch(): GroupCommitter<In, Out>["queue"] {
    if (this.maxInFlight === 1) return this.queue.splice(0, this.maxBatch)
    const batch: GroupCommitter<In, Out>["queue"] = []
    const keys: string[] = []
    const held: GroupCommitter<In, Out>["queue"] = []
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

  private async run(batch: GroupCommitter<In, Out>["queue"]): Promise<void> {
    this.inFlight++
    try {
      const outputs = await this.commit(batch.map((entry) => entry.item))
      batch.forEach((entry, i) => entry.resolve(outputs[i] as Out))
    } catch (error) {
      for (const entry of batch) entry.reject(error)
    } finally {
      this.inFlight--
      if (this.maxInFlight > 1) for (const entry of batch) this.keysInFlight.delete(this.keyOf(entry.item))
      if (this.queue.length > 0) this.schedule()
    }
  }
}
