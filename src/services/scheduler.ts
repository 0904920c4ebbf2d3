/**
 * The scheduler: fires due schedules. Every runner runs it, and none leads:
 * each reads the schedules that fire soonest, decides each one's next step
 * (src/schedules/plan.ts) and applies it as a compare-and-set on the row it
 * read, so among all runners exactly one step consumes each tick, and the
 * tick's workflow (ID `schedule:${id}:${tickISO}`) is inserted in that same
 * write. All state is in storage: a restarted or added runner knows
 * everything the others knew.
 *
 * @module
 */
import { errorMessage, type Logger } from "../logger.js"
import type { StorageHealth } from "../runtime/storage-health.js"
import { backoff } from "../runtime/storage-health.js"
import { cronTicker, type CronTicker } from "../schedules/cron.js"
import { planScheduleStep, type ScheduleStep } from "../schedules/plan.js"
import type { ScheduleRow, ScheduleStore } from "../storage/schedule-store.js"
import type { Service } from "./service.js"

/** Schedules read per round. */
const BATCH = 100
/** Rounds per pass at most, so that a long catch-up yields to the event loop now and then. */
const MAX_ROUNDS = 50

/** Settings of a {@link SchedulerService}. */
export interface SchedulerOptions {
  store: ScheduleStore
  now: () => number
  /** Longest wait between two looks at storage (other processes may add or change schedules). */
  pollIntervalMS: number
  health: StorageHealth
  logger: Logger
  /** The definition hash this runner declared for each schedule ID, to report a stored definition that differs. */
  declared: ReadonlyMap<string, string>
  /** A step of this runner applied (a tick fired, skipped or held back). */
  applied: (schedule: ScheduleRow, step: ScheduleStep, created: boolean) => void
}

/** Fires due schedules; see the module notes. */
export class SchedulerService implements Service {
  readonly name = "scheduler"
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private stopped = true
  private failures = 0
  private readonly tickers = new Map<string, { key: string; ticker: CronTicker }>()
  /** Stored hashes already reported as differing from this runner's declaration. */
  private readonly reported = new Set<string>()

  constructor(private readonly o: SchedulerOptions) {}

  start(): void {
    this.stopped = false
    this.wakeIn(0)
  }

  stop(): void {
    this.stopped = true
    clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Resolves once the pass under way (if any) has finished. */
  async drained(): Promise<void> {
    await this.running
  }

  /** Looks at storage now (a schedule was declared or resumed in this process). */
  poke(): void {
    if (!this.stopped) this.wakeIn(0)
  }

  private wakeIn(ms: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      if (this.running || this.stopped) return
      this.running = this.pass().finally(() => (this.running = undefined))
    }, Math.max(0, ms))
  }

  /** Applies due steps until none is left, then sleeps until the soonest tick (at most a poll interval). */
  private async pass(): Promise<void> {
    let wait = this.o.pollIntervalMS
    try {
      for (let round = 0; round < MAX_ROUNDS && !this.stopped; round++) {
        const rows = await this.o.store.schedulesToFire(BATCH)
        const now = this.o.now()
        let progressed = false
        wait = this.o.pollIntervalMS
        for (const row of rows) {
          if (this.stopped) break
          this.checkDeclared(row)
          const step = this.plan(row, now)
          if (step === null) {
            if (row.nextFireAt !== null && row.bufferedTickAt === null) wait = Math.min(wait, row.nextFireAt - now)
            continue
          }
          const outcome = await this.o.store.advanceSchedule(step.advance)
          // Refused: another runner consumed the tick first. Read again either way: the row has moved on.
          progressed = true
          if (outcome.applied) this.o.applied(row, step, outcome.created)
        }
        if (!progressed) break
        wait = 0
      }
      this.o.health.recovered("scheduler")
      this.failures = 0
    } catch (error) {
      this.failures++
      this.o.health.failed("scheduler", error)
      wait = backoff(this.failures)
    }
    if (!this.stopped) this.wakeIn(wait)
  }

  private plan(row: ScheduleRow, now: number): ScheduleStep | null {
    try {
      return planScheduleStep(row, now, this.tickerOf(row))
    } catch (error) {
      // A row this code cannot read (stored by a newer version, or damaged) must not stop the other schedules.
      this.o.logger.error?.(`schedule "${row.id}" cannot fire: ${errorMessage(error)}`, { scheduleID: row.id })
      return null
    }
  }

  private tickerOf(row: ScheduleRow): CronTicker {
    const key = `${row.cron}\u0000${row.timezone ?? ""}`
    const known = this.tickers.get(row.id)
    if (known?.key === key) return known.ticker
    const ticker = cronTicker(row.cron, row.timezone)
    this.tickers.set(row.id, { key, ticker })
    return ticker
  }

  /** Says once per stored definition when it is not the one this runner declared: another runner declared it differently. */
  private checkDeclared(row: ScheduleRow): void {
    const mine = this.o.declared.get(row.id)
    if (mine === undefined || mine === row.hash || this.reported.has(`${row.id}\u0000${row.hash}`)) return
    this.reported.add(`${row.id}\u0000${row.hash}`)
    this.o.logger.warn?.(
      `schedule "${row.id}" is stored with a definition other than the one this runner declared (stored hash ${row.hash}, ` +
        `this runner's ${mine}): another runner declared it differently since, and the stored one is what fires. ` +
        `Deploy one definition to every runner; the last declaration wins`,
      { scheduleID: row.id, storedHash: row.hash, declaredHash: mine },
    )
  }
}
