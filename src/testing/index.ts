/**
 * Tools for testing storage providers and workflows: the provider
 * conformance suite and a fault-injecting storage wrapper.
 *
 * @module
 */
export { runProviderConformance } from "./conformance.js"
export type { ConformanceOptions } from "./conformance.js"
export { FaultInjectingStorage, InjectedStorageError, STORAGE_METHODS } from "./faults.js"
export type { FaultKind, FaultOptions, FaultStats, StorageMethod } from "./faults.js"
