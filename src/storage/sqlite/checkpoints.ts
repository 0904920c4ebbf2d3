/**
 * Keeps a SQLite write-ahead log (WAL) bounded, so that the space it takes
 * goes back to the database, and a disk that filled up and was then freed is
 * used for progress rather than eaten by the log again.
 *
 * By itself SQLite checkpoints (copies the log into the database file) once
 * the log holds 1,000 pages (4 MB), passively, and never shrinks the log
 * file. On a disk with less room than that, nearly all the data sits in the
 * log when the disk fills, and copying it into the database then needs about
 * as much space again. So, all off the write path:
 *
 * - SQLite's own threshold is a quarter of the free space on the volume
 *   (between 64 and 1,000 pages; looked at on opening and then once a second
 *   while this connection writes), so when the disk fills the log holds
 *   little that is not in the database yet;
 * - on idle (a second without a change by this connection, after some), a
 *   TRUNCATE checkpoint empties the log file;
 * - by size: a log file over MAX_WAL_BYTES (checkpoints starved by other
 *   processes' readers, or a burst) gets a TRUNCATE checkpoint, and
 *   `journal_size_limit` trims the file to that size whenever the log
 *   restarts;
 * - after a write failed with SQLITE_FULL, a TRUNCATE checkpoint runs before
 *   the next write, until one completes (the only check on the write path:
 *   one boolean), so freed space goes to progress. While the disk stays as
 *   full as when a checkpoint last failed for it, none is tried.
 *
 * Several processes may share the file: a checkpoint waits at most
 * CHECKPOINT_BUSY_TIMEOUT_MS for other connections, and one that cannot
 * complete (busy, or no room yet to copy the log into the database) is tried
 * again later. A checkpoint never throws.
 *
 * @module
 */
import { statSync, statfsSync } from "node:fs"
import { dirname, resolve } from "node:path"
import type Database from "better-sqlite3"

/** How often the log is looked at; idle is a whole tick without changes. */
const TICK_MS = 1_000
/**
 * How long a checkpoint waits for other connections' writers and readers.
 * Short: better-sqlite3 is synchronous, so the wait blocks the event loop; a
 * checkpoint that would have to wait longer is tried again later.
 */
const CHECKPOINT_BUSY_TIMEOUT_MS = 20
/** SQLite's own threshold on a roomy disk: its default, stated so that a build with another default changes nothing. */
const MAX_AUTOCHECKPOINT_PAGES = 1_000
/** SQLite's own threshold on a (nearly) full disk: checkpoints every 256 KB at 4 KB pages. */
const MIN_AUTOCHECKPOINT_PAGES = 64
/**
 * Largest size the log file keeps after a restart (`journal_size_limit`),
 * above which it is checkpointed while writes go on. Above the 4 to 8 MB the
 * log reaches between SQLite's own checkpoints under load, so it only acts
 * after a burst or when other processes' readers starved checkpoints.
 */
const MAX_WAL_BYTES = 16 * 1024 * 1024

/** Checkpoints one connection's WAL: on idle, by size, and after a full disk. */
export class WalCheckpointer {
  private readonly walPath: string
  private readonly pageSize: number
  private readonly checkpointTruncate: Database.Statement
  private readonly totalChanges: Database.Statement
  private readonly timer: NodeJS.Timeout
  private autocheckpointPages = 0
  /** Rows changed by this connection, as of the last tick. */
  private changesSeen: number
  /** This connection changed rows since its last completed checkpoint. */
  private unsynced = false
  /** A write failed with SQLITE_FULL and no checkpoint has completed since. */
  private needsRoom = false
  /** Free bytes on the volume when a checkpoint last failed for a full disk; undefined once one completes. */
  private freeWhenFull: number | undefined

  /**
   * Sets the log's limits on `db` (a file database in WAL mode) and looks at
   * the log every second; call {@link stop} before closing `db`.
   *
   * @param busyTimeoutMS - the connection's busy timeout, put back after each checkpoint
   */
  constructor(
    private readonly db: Database.Database,
    private readonly busyTimeoutMS: number,
  ) {
    // Resolved now, as SQLite resolved it when opening: a later chdir must not move it.
    this.walPath = `${resolve(db.name)}-wal`
    this.pageSize = db.pragma("page_size", { simple: true }) as number
    db.pragma(`journal_size_limit = ${MAX_WAL_BYTES}`)
    this.fitThresholdToFreeSpace()
    this.checkpointTruncate = db.prepare("PRAGMA wal_checkpoint(TRUNCATE)")
    this.totalChanges = db.prepare("SELECT total_changes()").pluck()
    this.changesSeen = this.totalChanges.get() as number
    this.timer = setInterval(() => this.tick(), TICK_MS)
    // Housekeeping must not keep the process alive.
    this.timer.unref()
  }

  /** Call before each write: after a full disk, first tries to give the log's space back. */
  beforeWrite(): void {
    if (this.needsRoom) this.checkpoint()
  }

  /** Call when a write failed: after SQLITE_FULL the next write checkpoints first. */
  writeFailed(error: unknown): void {
    if (isDiskFull(error)) this.needsRoom = true
  }

  /** Stops looking at the log. */
  stop(): void {
    clearInterval(this.timer)
  }

  /**
   * Runs a TRUNCATE checkpoint: copies the log into the database and empties
   * the log file. Returns whether it completed; a busy database or a failure
   * (no room yet to copy the log into the database) leaves it for later.
   */
  checkpoint(): boolean {
    if (!this.db.open || this.db.inTransaction) return false
    // While no space was freed it would fail again, after rewriting pages for nothing (a full disk may last hours).
    if (this.freeWhenFull !== undefined && freeBytes(dirname(this.walPath)) <= this.freeWhenFull) return false
    let completed: boolean
    try {
      // Not a prepared statement: SQLite applies a pragma's setting when compiling it, not when running it again.
      this.db.pragma(`busy_timeout = ${CHECKPOINT_BUSY_TIMEOUT_MS}`)
      try {
        completed = (this.checkpointTruncate.get() as { busy: number }).busy === 0
      } finally {
        this.db.pragma(`busy_timeout = ${this.busyTimeoutMS}`)
      }
    } catch (error) {
      if (isDiskFull(error)) {
        this.needsRoom = true
        this.freeWhenFull = freeBytes(dirname(this.walPath))
      }
      return false
    }
    if (completed) {
      this.needsRoom = false
      this.freeWhenFull = undefined
      this.unsynced = false
      this.changesSeen = this.totalChanges.get() as number
    }
    return completed
  }

  private tick(): void {
    if (!this.db.open || this.db.inTransaction) return
    try {
      const changes = this.totalChanges.get() as number
      const wrote = changes !== this.changesSeen
      this.changesSeen = changes
      if (wrote) {
        this.unsynced = true
        this.fitThresholdToFreeSpace()
        if (fileSize(this.walPath) > MAX_WAL_BYTES) this.checkpoint()
      } else if (this.unsynced) {
        this.checkpoint()
      }
    } catch {
      // Housekeeping: tried again on the next tick.
    }
  }

  /** Sets SQLite's own checkpoint threshold to a quarter of the volume's free space, within its bounds. */
  private fitThresholdToFreeSpace(): void {
    const quarter = Math.floor(freeBytes(dirname(this.walPath)) / 4 / this.pageSize)
    const pages = Math.max(MIN_AUTOCHECKPOINT_PAGES, Math.min(MAX_AUTOCHECKPOINT_PAGES, quarter))
    if (pages === this.autocheckpointPages) return
    this.db.pragma(`wal_autocheckpoint = ${pages}`)
    this.autocheckpointPages = pages
  }
}

/** SQLITE_FULL: the disk (or a quota) is full. */
function isDiskFull(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && code.startsWith("SQLITE_FULL")
}

function fileSize(path: string): number {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/** Bytes still free for this process on the volume holding `dir`; Infinity when unknown. */
function freeBytes(dir: string): number {
  try {
    const fs = statfsSync(dir)
    return fs.bavail * fs.bsize
  } catch {
    return Infinity
  }
}
