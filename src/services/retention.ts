/**
 * Retention: deletes ended workflows whose last change is older than the
 * retention period, periodically. Pending workflows are never deleted (the
 * provider's `deleteEndedWorkflows` only touches ended ones). The same
 * service deletes old events (`eventRetentionMS`).
 */
import type { Service } from "./service.js"

/** Periodic deletion of ended workflows. */
export class RetentionService implements Service {
  private timer: NodeJS.Timeout | undefined

  /**
   * @param retentionMS - ended workflows (or events) older than this are deleted
   * @param deleteEnded - deletes ended workflows (or events) older than the given age; its failures are reported by the caller
   * @param name - `"retention"` for workflows, `"event retention"` for events
   */
  constructor(
    private readonly retentionMS: number,
    private readonly deleteEnded: (olderThanMS: number) => Promise<unknown>,
    readonly name = "retention",
  ) {}

  /** Sweeps every tenth of the retention period, at least every second and at most every hour. */
  start(): void {
    const every = Math.min(Math.max(this.retentionMS / 10, 1_000), 3_600_000)
    this.timer = setInterval(() => void this.deleteEnded(this.retentionMS).catch(() => {}), every)
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }
}
