/**
 * How the runtime's parts report storage trouble, and how long they wait
 * before trying again.
 */

/** What every part of the runtime tells about storage calls (the runner logs and emits it). */
export interface StorageHealth {
  /** A storage call failed; the caller will try again. */
  failed(operation: string, error: unknown): void
  /** A call of `operation` succeeded. */
  recovered(operation: string): void
  /** Whether the runner is stopping: retries then give up after a few tries. */
  stopping(): boolean
}

const STORAGE_BACKOFF_MIN_MS = 50
const STORAGE_BACKOFF_MAX_MS = 5_000

/** Delay before the next try after `failures` failures in a row: exponential with jitter, 50 ms to 5 s. */
export function backoff(failures: number): number {
  const cap = Math.min(STORAGE_BACKOFF_MAX_MS, STORAGE_BACKOFF_MIN_MS * 2 ** Math.min(failures, 10))
  return cap / 2 + Math.random() * (cap / 2)
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
