/**
 * The logger a WorkflowRunner writes to: any object with some of these
 * methods (console works). Unexpected task errors go to `error`, retries to
 * `warn`, ExpectedErrors to `info`, never to `error`.
 */
export interface Logger {
  debug?(message: string, fields?: Record<string, unknown>): void
  info?(message: string, fields?: Record<string, unknown>): void
  warn?(message: string, fields?: Record<string, unknown>): void
  error?(message: string, fields?: Record<string, unknown>): void
}

/** Turns anything thrown into a message worth storing and logging. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message
  if (typeof error === "string") return error
  try {
    return `non-Error thrown: ${JSON.stringify(error) ?? String(error)}`
  } catch {
    return `non-Error thrown: ${String(error)}`
  }
}
