/**
 * The shapes of the step kinds beyond a task, as users write them in
 * `tasks` (validated in validate.ts, run by their modules here).
 *
 * @module
 */

/**
 * A duration: milliseconds, or a number with a unit: `"500ms"`, `"90s"`,
 * `"15m"`, `"1h"`, `"2d"`.
 */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`

/**
 * A step that sleeps: for a duration counted from when the step is reached
 * (`{ sleep: "1h" }`), or until a point in time (`{ sleepUntil }`: a `Date`,
 * an ISO 8601 string or epoch ms; a time in the past wakes at once). The
 * wake time is stored when the step is reached and kept across restarts;
 * while it sleeps the workflow holds no lease and no concurrency slot. Its
 * result is `{ sleptUntil }` (an ISO 8601 string). Needs a provider with the
 * `waits` capability (every provider of this library has it).
 */
export type SleepStep =
  | { sleep: Duration; sleepUntil?: never; task?: never; data?: never }
  | { sleepUntil: Date | string | number; sleep?: never; task?: never; data?: never }
