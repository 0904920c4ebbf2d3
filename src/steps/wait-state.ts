/**
 * How `getWorkflow` describes a waitForEvent step that is waiting.
 *
 * @module
 */
import { NO_TIMEOUT } from "../engine.js"

/** `waiting for event "paid" with key "42" until <ISO>` (or `(no timeout)`), from the stored definition and deadline. */
export function waitingState(data: string, wakeAt: number): string {
  let what = "an event"
  try {
    const w = (JSON.parse(data) as { waitForEvent?: { name?: unknown; key?: unknown } }).waitForEvent
    if (typeof w?.name === "string") what = `event ${JSON.stringify(w.name)}${typeof w.key === "string" ? ` with key ${JSON.stringify(w.key)}` : ""}`
  } catch {
    // A damaged definition is reported when the step runs; here it is only described.
  }
  return `waiting for ${what} ${wakeAt >= NO_TIMEOUT ? "(no timeout)" : `until ${new Date(wakeAt).toISOString()}`}`
}
