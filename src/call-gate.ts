/**
 * The gate of a client's (and its runner's) public calls: it counts the
 * calls under way, so that storage is closed only after every call accepted
 * before `close()` / `stop()` has settled, and refuses calls made after.
 */
import { RunnerStoppedError } from "./errors.js"

/** Counts calls under way; once closed, refuses new ones with a {@link RunnerStoppedError}. */
export class CallGate {
  private underway = 0
  private refusal: string | undefined
  private idle: Array<() => void> = []

  /**
   * Runs `call` and counts it until it settles.
   *
   * @throws RunnerStoppedError once the gate is closed (`call` is not run)
   */
  async run<T>(call: () => Promise<T>): Promise<T> {
    if (this.refusal !== undefined) throw new RunnerStoppedError(this.refusal)
    this.underway++
    try {
      return await call()
    } finally {
      this.underway--
      if (this.underway === 0) for (const resolve of this.idle.splice(0)) resolve()
    }
  }

  /** Refuses calls from now on with `message`; resolves once every call under way has settled. */
  close(message: string): Promise<void> {
    this.refusal ??= message
    if (this.underway === 0) return Promise.resolve()
    return new Promise<void>((resolve) => this.idle.push(resolve))
  }
}
