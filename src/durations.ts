/**
 * Durations and times as people type them, shared by the CLI's options and
 * the dashboard's filters so that both take the same text: `90s`, `30m`,
 * `12h`, `7d`, `2w`, `500ms`; a time is an ISO date or a duration ago.
 *
 * @module
 */
import { ValidationError } from "./errors.js"

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/**
 * A duration in ms.
 *
 * @throws ValidationError naming `what` when the text is not one
 */
export function parseDuration(text: string, what: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(text.trim())
  if (!match) throw new ValidationError(`${what} takes a duration such as 90s, 30m, 12h, 7d or 2w, got ${JSON.stringify(text)}`)
  return Number(match[1]) * (UNITS[match[2] as string] as number)
}

/**
 * A time in ms: an ISO 8601 date or date-time, or a duration meaning that long before `now`.
 *
 * @throws ValidationError naming `what` when the text is neither
 */
export function parseTime(text: string, what: string, now: number): number {
  if (/^\d+(?:\.\d+)?(ms|s|m|h|d|w)$/.test(text.trim())) return now - parseDuration(text, what)
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : Number.NaN
  if (!Number.isFinite(ms)) throw new ValidationError(`${what} takes an ISO date (2024-05-01, 2024-05-01T12:00Z) or a duration ago (2h, 7d), got ${JSON.stringify(text)}`)
  return ms
}
