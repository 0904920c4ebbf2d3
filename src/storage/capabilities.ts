/**
 * What a provider can do, as the runner and the client see it: its declared
 * contract version and capabilities, or what its optional methods show.
 */
import { ValidationError } from "../errors.js"
import { readChild } from "../steps/child-spec.js"
import { STORAGE_CONTRACT_VERSION, type NewTask, type StorageCapability, type StorageProvider } from "./provider.js"

/** The capabilities of `storage`, checking the contract version it declares. */
export function capabilitiesOf(storage: StorageProvider): ReadonlySet<StorageCapability> {
  const declared = storage.capabilities
  if (declared === undefined) {
    const found = new Set<StorageCapability>(["core"])
    if (typeof storage.getWorkflowStatuses === "function") found.add("status-reads")
    if (typeof storage.onWorkAvailable === "function") found.add("notifications")
    if (typeof storage.schedules === "object" && storage.schedules !== null) found.add("schedules")
    return found
  }
  if (typeof declared !== "object" || declared === null || !Array.isArray(declared.supports)) {
    throw new ValidationError("storageProvider.capabilities must be { contract, supports: [...] }")
  }
  if (declared.contract !== STORAGE_CONTRACT_VERSION) {
    throw new ValidationError(
      `storageProvider implements storage contract version ${String(declared.contract)}; this durabletasks implements version ${STORAGE_CONTRACT_VERSION}: ` +
        `use a provider built for it`,
    )
  }
  return new Set<StorageCapability>(["core", ...declared.supports])
}

/**
 * Refuses an option the provider cannot serve.
 *
 * @param option - the option as the user wrote it, for the message
 */
export function requireCapability(capabilities: ReadonlySet<StorageCapability>, capability: StorageCapability, option: string): void {
  if (!capabilities.has(capability)) {
    throw new ValidationError(`${option} needs a storage provider with the "${capability}" capability, and this one does not declare it`)
  }
}

/**
 * Refuses steps of a kind the provider cannot store (a sleep needs `waits`,
 * a waitForEvent `events`, a child workflow `children`), in child workflows
 * too, before anything is written.
 */
export function requireStepCapabilities(tasks: readonly NewTask[], capabilities: ReadonlySet<StorageCapability>): void {
  const waiting = tasks.find((t) => t.kind === "sleep")
  if (waiting) requireCapability(capabilities, "waits", `the sleep step "${waiting.name}"`)
  const forEvent = tasks.find((t) => t.kind === "waitForEvent")
  if (forEvent) requireCapability(capabilities, "events", `the waitForEvent step "${forEvent.name}"`)
  const parallel = tasks.find((t) => t.kind === "parallel")
  if (parallel) requireCapability(capabilities, "waits", `the parallel step "${parallel.name}"`)
  for (const t of tasks) {
    if (t.kind !== "workflow") continue
    requireCapability(capabilities, "children", `the child workflow step "${t.name}"`)
    requireStepCapabilities(readChild({ name: t.name, workflowID: "", data: t.data }).tasks, capabilities)
  }
}
