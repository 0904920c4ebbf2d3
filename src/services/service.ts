/** A background job of the runner (retention now; schedules and event expiry later): started by `recover()`, stopped by `stop()`. */
export interface Service {
  /** What it does, for logs. */
  readonly name: string
  /** Starts its timers. */
  start(): void
  /** Stops its timers; work under way may finish on its own. */
  stop(): void
  /** Optional: resolves once work under way has finished (the runner waits for it before closing storage). */
  drained?(): Promise<void>
}
