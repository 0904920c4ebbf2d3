/**
 * The checks on events input: `sendEvent` and the `waitForEvent` step.
 * Beside validate.ts, which dispatches a step of this kind here.
 *
 * @module
 */
import { randomUUID } from "node:crypto"
import { ValidationError } from "./errors.js"
import { refuseUnknownKeys } from "./known-keys.js"
import { toJSONText } from "./json.js"
import type { NewTask } from "./storage/provider.js"
import type { NewEvent } from "./storage/event-store.js"
import { MAX_WORKFLOW_ID_LENGTH, validateDuration, validateWorkflowID } from "./validate.js"

/** A `waitForEvent` step's definition as stored in its `data`. */
export interface StoredWaitForEvent {
  waitForEvent: {
    name: string
    /** `null` for none. */
    key: string | null
    /** `null` for no timeout. */
    timeoutMS: number | null
    onTimeout: "continue" | "fail"
  }
}

/** Checks an event name or key: like a workflow ID (non-empty, at most 512 characters, storable). */
export function validateEventName(value: unknown, what: string): string {
  if (typeof value === "string" && value.length > MAX_WORKFLOW_ID_LENGTH) {
    throw new ValidationError(`${what} is ${value.length} characters long; the limit is ${MAX_WORKFLOW_ID_LENGTH}`)
  }
  return validateWorkflowID(value, what)
}

/** Checks a `waitForEvent` step and builds its stored definition and event columns. */
export function validateWaitForEventStep(label: string, spec: object): NewTask {
  const { waitForEvent, data } = spec as { waitForEvent?: unknown; data?: unknown }
  if (data !== undefined) throw new ValidationError(`step "${label}" is a waitForEvent and takes no "data"`)
  if (typeof waitForEvent !== "object" || waitForEvent === null || Array.isArray(waitForEvent)) {
    throw new ValidationError(`waitForEvent of step "${label}" must be an object { name, key?, timeoutMS?, onTimeout? }`)
  }
  const options = waitForEvent as Record<string, unknown>
  refuseUnknownKeys(options, ["name", "key", "timeoutMS", "onTimeout"], `waitForEvent of step "${label}"`)
  const name = validateEventName(options.name, `the event name of step "${label}"`)
  const key = options.key === undefined ? null : validateEventName(options.key, `the event key of step "${label}"`)
  const timeoutMS = options.timeoutMS === undefined ? null : validateDuration(options.timeoutMS, `timeoutMS of step "${label}"`)
  const onTimeout = options.onTimeout ?? "continue"
  if (onTimeout !== "continue" && onTimeout !== "fail") {
    throw new ValidationError(`onTimeout of step "${label}" must be "continue" or "fail", got ${JSON.stringify(onTimeout)}`)
  }
  const definition: StoredWaitForEvent = { waitForEvent: { name, key, timeoutMS, onTimeout } }
  return { name: label, task: "", data: JSON.stringify(definition), kind: "waitForEvent", event: { name, key: key ?? "" } }
}

/**
 * Checks the rows of a parallel step `label` (its own, then its members'):
 * waitForEvent members and child workflow members cannot be in one parallel
 * step yet (its park waits either for events or for children). Returns the
 * rows.
 */
export function checkEventMembers(label: string, rows: NewTask[]): NewTask[] {
  const wait = rows.find((r) => r.kind === "waitForEvent")
  const child = rows.find((r) => r.kind === "workflow")
  if (wait && child) {
    throw new ValidationError(
      `parallel step "${label}" has a member that waits for an event ("${wait.name}") and a child workflow member ("${child.name}"), ` +
        `which one parallel step cannot have together yet: move the wait into the child workflow, or into a parallel step of its own`,
    )
  }
  return rows
}

/**
 * Checks `sendEvent` input and builds the event to store. Errors go to the
 * caller only: nothing is stored.
 *
 * @throws ValidationError / SerializationError
 */
export function validateSendEvent(input: unknown, maxPayloadBytes: number, now: number): NewEvent {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new ValidationError(`sendEvent takes { name, key?, payload?, eventID? }`)
  }
  refuseUnknownKeys(input, ["name", "key", "payload", "eventID"], "sendEvent")
  const { name, key, payload, eventID } = input as Record<string, unknown>
  return {
    name: validateEventName(name, "the event name"),
    key: key === undefined ? "" : validateEventName(key, "the event key"),
    payload: toJSONText(payload, `payload of event ${JSON.stringify(name)}`, maxPayloadBytes),
    eventID: eventID === undefined ? randomUUID() : validateEventName(eventID, "eventID"),
    now,
  }
}

/**
 * Reads a stored `waitForEvent` definition.
 *
 * @throws ValidationError when it is not one this library writes (a damaged or foreign row)
 */
export function readStoredWaitForEvent(data: string, where: string): StoredWaitForEvent["waitForEvent"] {
  let parsed: unknown
  try {
    parsed = JSON.parse(data)
  } catch {
    parsed = undefined
  }
  const w = (parsed as { waitForEvent?: Record<string, unknown> } | undefined)?.waitForEvent
  if (
    typeof w === "object" &&
    w !== null &&
    typeof w.name === "string" &&
    (w.key === null || typeof w.key === "string") &&
    (w.timeoutMS === null || (typeof w.timeoutMS === "number" && Number.isFinite(w.timeoutMS) && w.timeoutMS >= 0)) &&
    (w.onTimeout === "continue" || w.onTimeout === "fail")
  ) {
    return w as StoredWaitForEvent["waitForEvent"]
  }
  throw new ValidationError(`${where} is a waitForEvent with a stored definition this durabletasks cannot read: ${data}`)
}
