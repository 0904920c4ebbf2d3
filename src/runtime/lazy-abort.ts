/**
 * An abort controller whose `AbortSignal` is made only when something asks
 * for it: a task that reads `ctx.signal`, a timeout, a parallel step. Most
 * executions are never aborted and most tasks never read their signal, and
 * Node makes an `AbortController` slowly (about 2.5 µs, a twentieth of a
 * short workflow's whole cost in a burn-down on Postgres, measured with
 * `--cpu-prof`).
 */

/** What an execution reads of its abort: whether it fired, and a real signal when one is needed. */
export interface ExecutionAbort {
  /** Whether it has fired; reading it makes no signal. */
  readonly aborted: boolean
  /** A real `AbortSignal`, made on first read (already aborted if it has fired). */
  readonly signal: AbortSignal
}

/** An `AbortController` made on first use of its signal; see the module's description. */
export class LazyAbortController implements ExecutionAbort {
  private controller: AbortController | undefined
  private fired = false
  private reason: unknown

  get aborted(): boolean {
    return this.fired
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController()
      if (this.fired) this.controller.abort(this.reason)
    }
    return this.controller.signal
  }

  /** Fires once (later calls do nothing), with `reason` as the signal's reason. */
  abort(reason?: unknown): void {
    if (this.fired) return
    this.fired = true
    this.reason = reason
    this.controller?.abort(reason)
  }
}
