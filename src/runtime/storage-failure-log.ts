/**
 * Tells the operator when a storage call keeps failing: at `error` on its
 * first failure and then every STORAGE_FAILURE_REPORT_MS while it goes on,
 * each time with what fails, for how long, and what to check; the failures
 * in between go to `debug`, so a runner retrying with backoff does not flood
 * the log. Kept per operation: on a full disk a claim that finds nothing to
 * do still succeeds (it writes nothing) while every result write fails, and
 * that must not reset the count.
 *
 * @module
 */
import { errorMessage, type Logger } from "../logger.js"

/** How often a storage call that keeps failing is reported again at `error`. */
export const STORAGE_FAILURE_REPORT_MS = 30_000

/** One storage operation that is failing. */
interface Failing {
  since: number
  failures: number
  lastFailureAt: number
  reportedAt: number
}

/** Reports failing storage calls to a logger, rate-limited per operation. */
export class StorageFailureLog {
  private readonly failing = new Map<string, Failing>()

  /**
   * @param logger - where reports go
   * @param now - the clock (the runner's)
   * @param reportEveryMS - how often a failure that goes on is reported again at `error`
   */
  constructor(
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly reportEveryMS = STORAGE_FAILURE_REPORT_MS,
  ) {}

  /** Records a failure of `operation`; logs it at `error` if it is the first or a report is due, else at `debug`. */
  failed(operation: string, error: unknown): void {
    const now = this.now()
    const message = errorMessage(error)
    let entry = this.failing.get(operation)
    // Operations whose successes are not reported (reads) end their spell after a long enough quiet.
    if (entry && now - entry.lastFailureAt > 2 * this.reportEveryMS) entry = undefined
    if (!entry) {
      this.failing.set(operation, { since: now, failures: 1, lastFailureAt: now, reportedAt: now })
      this.logger.error?.(`storage ${operation} failed (1 in a row; retrying): ${message}. Check: ${storageFailureHint(error)}`, {
        operation,
        failures: 1,
      })
      return
    }
    entry.failures++
    entry.lastFailureAt = now
    if (now - entry.reportedAt < this.reportEveryMS) {
      this.logger.debug?.(`storage ${operation} failed (${entry.failures} in a row): ${message}`, { operation, failures: entry.failures })
      return
    }
    entry.reportedAt = now
    const forMS = now - entry.since
    this.logger.error?.(
      `storage ${operation} has been failing for ${formatDuration(forMS)} (${entry.failures} in a row; still retrying): ${message}. ` +
        `Check: ${storageFailureHint(error)}`,
      { operation, failures: entry.failures, failingForMS: forMS },
    )
  }

  /** Records a success of `operation`: ends its spell of failures, saying so at `info`. */
  recovered(operation: string): void {
    const entry = this.failing.get(operation)
    if (!entry) return
    this.failing.delete(operation)
    this.logger.info?.(
      `storage is answering again: ${operation} succeeded after ${entry.failures} failures over ${formatDuration(this.now() - entry.since)}`,
      { operation, failures: entry.failures },
    )
  }
}

/** What the operator should check for a storage error, from its driver code or message. */
export function storageFailureHint(error: unknown): string {
  const code = errorCode(error)
  const text = `${code} ${errorMessage(error)}`
  if (/SQLITE_FULL|ENOSPC|EDQUOT|^53100|disk is full|no space left/i.test(text)) {
    return "free disk space on the volume that holds the database; nothing else is needed: the runner resumes by itself, and nothing acknowledged is lost"
  }
  if (/SQLITE_READONLY|EROFS|EACCES|EPERM|readonly|read-only|permission denied/i.test(text)) {
    return "that this process may write the database file, its directory and its -wal and -shm files, and that the file system is mounted read-write"
  }
  if (/SQLITE_BUSY|SQLITE_LOCKED|database is locked/i.test(text)) {
    return "which process keeps the database locked (a long transaction or a stuck process); busyTimeoutMS sets how long a write waits for it"
  }
  if (/SQLITE_CORRUPT|SQLITE_NOTADB|malformed|not a database/i.test(text)) {
    return "the database file: PRAGMA integrity_check; restore it from a backup if it is damaged"
  }
  if (/SQLITE_IOERR|EIO\b|I\/O error/i.test(text)) {
    return "the disk and file system holding the database (kernel log): the operating system reports I/O errors"
  }
  if (/ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|^57P0|^08|connect|connection|terminat/i.test(text)) {
    return "that the database server is running and reachable from this host (address, network, credentials, connection limits)"
  }
  return "that the storage is reachable and writable and has free space; the error says more"
}

/** The driver's code of `error` or of its cause (SQLite `SQLITE_FULL`, Postgres `53100`, Node `ECONNREFUSED`). */
function errorCode(error: unknown): string {
  for (let e = error, depth = 0; e !== null && typeof e === "object" && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === "string" && code !== "") return code
  }
  return ""
}

/** "850 ms", "45 s", "3 min 20 s", "2 h 5 min". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))} ms`
  const s = Math.floor(ms / 1_000)
  if (s < 60) return `${s} s`
  const min = Math.floor(s / 60)
  if (min < 60) return s % 60 === 0 ? `${min} min` : `${min} min ${s % 60} s`
  const h = Math.floor(min / 60)
  return min % 60 === 0 ? `${h} h` : `${h} h ${min % 60} min`
}
