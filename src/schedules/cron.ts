/**
 * Cron expressions, through croner (a well-kept parser with time zones and
 * daylight-saving rules; see the README). Nothing else in durabletasks reads
 * a cron expression.
 *
 * @module
 */
import { Cron } from "croner"
import { ValidationError } from "../errors.js"

/** The ticks of one cron expression in one time zone. */
export interface CronTicker {
  /** The first tick strictly after `after` (ms since the epoch), or `null` if the expression has none. */
  next(after: number): number | null
}

/**
 * Parses a cron expression (5 fields, or 6 with seconds first, or 7 with
 * years last) read in `timezone` (IANA name; UTC when `null`).
 *
 * Daylight saving follows croner: an expression with a single second,
 * minute and hour (`30 2 * * *`) is a fixed-time job: in the hour that a
 * spring-forward skips it fires at the first valid time after the gap, and
 * on a fall-back day it fires once, at the first occurrence. Other
 * expressions (`*\/30 * * * *`) skip times in the gap and fire at both
 * occurrences of a repeated time.
 *
 * @throws ValidationError naming the expression or time zone when either is invalid
 */
export function cronTicker(cron: string, timezone: string | null): CronTicker {
  if (timezone !== null) validateTimeZone(timezone)
  let parsed: Cron
  try {
    parsed = new Cron(cron, { paused: true, ...(timezone === null ? { timezone: "Etc/UTC" } : { timezone }) })
  } catch (error) {
    throw new ValidationError(
      `cron ${JSON.stringify(cron)} is invalid: ${error instanceof Error ? error.message : String(error)} ` +
        `(use 5 fields "min hour day month weekday", or 6 with seconds first, e.g. "0 */5 * * * *")`,
    )
  }
  return {
    next(after: number): number | null {
      const next = parsed.nextRun(new Date(after))
      return next === null ? null : next.getTime()
    },
  }
}

/** @throws ValidationError when `timezone` is not an IANA time zone this Node.js knows */
function validateTimeZone(timezone: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone })
  } catch {
    throw new ValidationError(`timezone ${JSON.stringify(timezone)} is not a known IANA time zone (e.g. "Europe/Berlin", "America/New_York", "UTC")`)
  }
}
