/**
 * Errors durabletasks throws at its users. Each has a `name` to match on and a
 * message that says what to change.
 *
 * @module
 */

/** Bad input to a public method or option; nothing was written. */
export class ValidationError extends Error {
  override name = "ValidationError"
}

/** A value JSON cannot carry faithfully (BigInt, function, cycle, Map, …) or one over the size limit. */
export class SerializationError extends Error {
  override name = "SerializationError"
}

/** The storage provider failed; the operation may not have happened. Safe to retry `addWorkflow`. */
export class StorageError extends Error {
  override name = "StorageError"
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The runner was stopped; it accepts no more work. */
export class RunnerStoppedError extends Error {
  override name = "RunnerStoppedError"
}
