/**
 * Group commit: writes that arrive together are committed in one call (one
 * transaction), and each caller's promise settles only after that call, so
 * nothing is acknowledged before it is durable.
 *
 * One batch is in flight at a time; what arrives meanwhile forms the next
 * batch. Under load batches grow by themselves, and each fsync serves many
 * writers.
 */
export class GroupCommitter<In, Out> {
  private queue: Array<{ item: In; resolve: (out: Out) => void; reject: (error: unknown) => void }> = []
  private flushing = false
  private scheduled = false

  /**
   * @param commit - writes all items atomically and returns one output per item, in order
   * @param maxBatch - largest batch handed to `commit`
   */
  constructor(
    private readonly commit: (items: In[]) => Promise<Out[]>,
    private readonly maxBatch = 2000,
  ) {}

  /** Queues `item`; resolves with its output once its batch is committed. */
  submit(item: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({ item, resolve, reject })
      this.schedule()
    })
  }

  /** Items waiting or in flight: none when idle. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.flushing
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return
    this.scheduled = true
    // setImmediate, not a microtask: lets every executor that finishes in this
    // turn of the event loop join the batch.
    setImmediate(() => {
      this.scheduled = false
      void this.flush()
    })
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return
    this.flushing = true
    const batch = this.queue.splice(0, this.maxBatch)
    try {
      const outputs = await this.commit(batch.map((entry) => entry.item))
      batch.forEach((entry, i) => entry.resolve(outputs[i] as Out))
    } catch (error) {
      for (const entry of batch) entry.reject(error)
    } finally {
      this.flushing = false
      if (this.queue.length > 0) this.schedule()
    }
  }
}
