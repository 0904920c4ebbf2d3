/**
 * A producer that keeps a bounded backlog: it adds workflows of no-op tasks
 * in batches (each batch's `addWorkflow` calls are group-committed into one
 * insert) whenever fewer than `backlog` are added but not yet ended, so a
 * long run is a steady flow through the tables rather than a pre-filled
 * table drained.
 *
 * @module
 */
import type { WorkflowClient } from "../../src/index.js"

/** Input of one benchmark workflow: `tasks` no-op tasks and a random (UUIDv4) ID, the library's default. */
function input(tasks: number): { tasks: Record<string, { task: string }> } {
  const entries: Record<string, { task: string }> = {}
  for (let i = 0; i < tasks; i++) entries[`t${i}`] = { task: "Noop" }
  return { tasks: entries }
}

/** Adds workflows through a client, keeping at most `backlog` of them unended. */
export class SteadyProducer {
  /** Workflows added so far (durably stored). */
  added = 0
  /** Why the loop stopped early, if an add failed. */
  error: unknown
  private stopped = false
  private loop: Promise<void> | undefined

  /**
   * @param client - adds the workflows
   * @param tasks - no-op tasks per workflow
   * @param backlog - most workflows added but not ended at once
   * @param ended - how many of the added workflows have ended so far
   * @param batch - most workflows per batch
   */
  constructor(
    private readonly client: WorkflowClient,
    private readonly tasks: number,
    private readonly backlog: number,
    private readonly ended: () => number,
    private readonly batch = 2_000,
  ) {}

  /** Adds `count` workflows now, in batches, and waits until they are stored. */
  async fill(count: number): Promise<void> {
    for (let left = count; left > 0; ) {
      const n = Math.min(left, this.batch)
      await this.addBatch(n)
      left -= n
    }
  }

  /** Starts topping the backlog up, until {@link stop}. */
  start(): void {
    this.loop = this.run().catch((error: unknown) => {
      this.error = error
    })
  }

  /** Stops adding and waits for the batch under way. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.loop
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const room = this.backlog - (this.added - this.ended())
      // Top up in batches of at least a tenth of one, so the inserts stay batched.
      if (room < Math.min(this.batch / 10, this.backlog)) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        continue
      }
      await this.addBatch(Math.min(room, this.batch))
    }
  }

  private async addBatch(n: number): Promise<void> {
    const adds: Array<Promise<unknown>> = []
    for (let i = 0; i < n; i++) adds.push(this.client.addWorkflow(input(this.tasks)))
    await Promise.all(adds)
    this.added += n
  }
}
