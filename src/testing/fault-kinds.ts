/**
 * What a fault of `FaultInjectingStorage` hits and what it throws: the
 * storage methods, the kinds of fault, and the error each kind throws,
 * mimicking the real driver's.
 *
 * @module
 */
import { ValidationError } from "../errors.js"

/** A method of `StorageProvider` that faults can hit. */
export type StorageMethod =
  | "init"
  | "close"
  | "insertWorkflowsAndTasks"
  | "claimWorkflows"
  | "renewLeases"
  | "releaseLeases"
  | "applyWorkflowWrites"
  | "getWorkflow"
  | "listWorkflows"
  | "cancelWorkflow"
  | "retryWorkflow"
  | "deleteEndedWorkflows"
  | "getWorkflowStatuses"
  | "getWorkflows"
  | "awaitChildren"

/** Every {@link StorageMethod}. */
export const STORAGE_METHODS: readonly StorageMethod[] = [
  "init",
  "close",
  "insertWorkflowsAndTasks",
  "claimWorkflows",
  "renewLeases",
  "releaseLeases",
  "applyWorkflowWrites",
  "getWorkflow",
  "listWorkflows",
  "cancelWorkflow",
  "retryWorkflow",
  "deleteEndedWorkflows",
  "getWorkflowStatuses",
  "getWorkflows",
  "awaitChildren",
]

/**
 * The kinds of error `FaultInjectingStorage` throws. Each mimics the
 * error a real driver throws (see {@link InjectedStorageError}).
 *
 * - `failure`: SQLite's `SQLITE_IOERR` "disk I/O error"; nothing happened.
 * - `busy`: `SQLITE_BUSY` "database is locked"; nothing happened.
 * - `full`: `SQLITE_FULL` "database or disk is full"; nothing happened.
 * - `readonly`: `SQLITE_READONLY` "attempt to write a readonly database"; nothing happened.
 * - `outage`: `ECONNREFUSED`, as from a database server that is down; nothing happened.
 * - `timeout`: `ETIMEDOUT`, what a hung call fails with once released; nothing happened.
 * - `lostReply`: `ECONNRESET` after the call **took effect** in the wrapped
 *   provider, as when a connection drops between COMMIT and its reply.
 */
export type FaultKind = "failure" | "busy" | "full" | "readonly" | "outage" | "timeout" | "lostReply"

const MIMICS: Record<FaultKind, { name: string; code: string; message: string }> = {
  failure: { name: "SqliteError", code: "SQLITE_IOERR", message: "disk I/O error" },
  busy: { name: "SqliteError", code: "SQLITE_BUSY", message: "database is locked" },
  full: { name: "SqliteError", code: "SQLITE_FULL", message: "database or disk is full" },
  readonly: { name: "SqliteError", code: "SQLITE_READONLY", message: "attempt to write a readonly database" },
  outage: { name: "Error", code: "ECONNREFUSED", message: "connect ECONNREFUSED: storage is unavailable" },
  timeout: { name: "Error", code: "ETIMEDOUT", message: "storage call timed out" },
  lostReply: { name: "Error", code: "ECONNRESET", message: "connection reset after the call was sent; it may have taken effect" },
}

/** Every {@link FaultKind}. */
export const FAULT_KINDS = Object.keys(MIMICS) as FaultKind[]

/**
 * An error injected by `FaultInjectingStorage`. Its `name`, `code` and
 * message mimic the real driver's error (`SqliteError` with
 * `code: "SQLITE_BUSY"`, …), so code that classifies storage errors by name or
 * code treats it as the real thing; the message ends with "(injected fault)"
 * so logs show what it is, and `injected` / `instanceof` tell it apart.
 */
export class InjectedStorageError extends Error {
  /** The mimicked driver error code, e.g. `"SQLITE_BUSY"` or `"ECONNREFUSED"`. */
  readonly code: string
  /** Which fault this is. */
  readonly kind: FaultKind
  /** The storage method the fault hit. */
  readonly method: StorageMethod
  /** Always `true`: this error was injected, not raised by storage. */
  readonly injected = true

  constructor(kind: FaultKind, method: StorageMethod) {
    const mimic = MIMICS[kind]
    super(`${mimic.message} (injected fault in ${method})`)
    this.name = mimic.name
    this.code = mimic.code
    this.kind = kind
    this.method = method
  }
}

/** Refuses a name that is not a {@link StorageMethod}. */
export function assertMethod(method: unknown): asserts method is StorageMethod {
  if (!STORAGE_METHODS.includes(method as StorageMethod)) {
    throw new ValidationError(`unknown storage method ${JSON.stringify(method)}: use one of ${STORAGE_METHODS.join(", ")}`)
  }
}

/** Refuses a name that is not a {@link FaultKind}. */
export function assertKind(kind: unknown): asserts kind is FaultKind {
  if (!FAULT_KINDS.includes(kind as FaultKind)) {
    throw new ValidationError(`unknown fault kind ${JSON.stringify(kind)}: use one of ${FAULT_KINDS.join(", ")}`)
  }
}
