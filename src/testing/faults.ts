/**
 * A StorageProvider wrapper that injects faults, for testing how your
 * workflows and the runner behave when storage misbehaves: calls that fail,
 * report "database is locked", are slow, hang, or take effect but lose their
 * reply; whole outages; and scripted faults on the next calls of one method.
 *
 * ```ts
 * import { FaultInjectingStorage } from "durabletasks/testing"
 * import { SQLiteStorageProvider } from "durabletasks/storage/sqlite"
 *
 * const storage = new FaultInjectingStorage(new SQLiteStorageProvider("test.sqlite"), {
 *   failureRate: 0.1, busyRate: 0.1, delayMS: [0, 20], seed: 42,
 * })
 * const runner = new WorkflowRunner({ storageProvider: storage, taskRunners })
 * // ... run workflows under faults, then:
 * storage.heal()   // every fault stops; hung calls fail at once
 * ```
 *
 * Random faults come from a seeded PRNG: the same seed and the same sequence
 * of calls give the same faults. (The order of calls depends on timing, so a
 * replay is exact only for code whose calls do not race.)
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import type { EventStore } from "../storage/event-store.js"
import type {
  AwaitChildren,
  StorageCapabilities,
  ClaimRequest,
  LeaseRelease,
  LeaseRenewal,
  NewWorkflow,
  StorageProvider,
  RetryRequest,
  WorkflowWrite,
  WorkflowFilter,
  WorkflowRow,
  WorkflowStatus,
  WorkflowWithTasks,
} from "../storage/provider.js"
import type { ScheduleStore } from "../storage/schedule-store.js"
import { FAULT_KINDS, InjectedStorageError, STORAGE_METHODS, assertKind, assertMethod, type FaultKind, type StorageMethod } from "./fault-kinds.js"
import { NO_FAULTS, resolveFaultOptions, type FaultOptions, type ResolvedOptions } from "./fault-options.js"
import { mulberry32 } from "./prng.js"

export { InjectedStorageError, STORAGE_METHODS } from "./fault-kinds.js"
export type { FaultKind, StorageMethod } from "./fault-kinds.js"
export type { FaultOptions } from "./fault-options.js"

/** Counters of a {@link FaultInjectingStorage}, as returned by `stats()`. */
export interface FaultStats {
  /** Calls received, per method (including those that failed). */
  calls: Record<StorageMethod, number>
  /** Injected errors thrown, per kind. */
  faults: Record<FaultKind, number>
  /** Calls that were delayed. */
  delayed: number
  /** Calls hanging right now. */
  hanging: number
}

/** What a scripted fault does: throw a kind of fault, or hang. */
type Scripted = FaultKind | "hang"

/**
 * Wraps any {@link StorageProvider} and injects faults into its calls: random
 * ones by rate (see {@link FaultOptions}), an outage switched on and off,
 * and scripted faults on the next calls of a method.
 *
 * A fault that is not `lostReply` is thrown before the call reaches the
 * wrapped provider, so nothing happened in storage, as with a real
 * "database is locked". `close()` always goes through unless `methods` lists it.
 */
export class FaultInjectingStorage implements StorageProvider {
  /** The wrapped provider. */
  readonly inner: StorageProvider

  /** The wrapped provider's. */
  get capabilities(): StorageCapabilities | undefined {
    return this.inner.capabilities
  }
  private options: ResolvedOptions
  private random: () => number
  private outageKind: FaultKind | undefined
  private readonly scripted = new Map<StorageMethod, Scripted[]>()
  private readonly hung = new Set<() => void>()
  private readonly counters: FaultStats

  /**
   * The wrapped provider's `getWorkflowStatuses`, with faults; absent when the
   * wrapped provider lacks it (the runner then behaves as it would without it).
   */
  readonly getWorkflowStatuses?: (ids: string[]) => Promise<Array<{ id: string; status: WorkflowStatus }>>

  /** The wrapped provider's `getWorkflows`, with faults; absent when the wrapped provider lacks it. */
  readonly getWorkflows?: (ids: string[]) => Promise<WorkflowWithTasks[]>

  /** The wrapped provider's `awaitChildren` (the `children` capability), with faults; absent when it lacks it. */
  readonly awaitChildren?: (park: AwaitChildren) => Promise<number | null>

  /** The wrapped provider's schedules, passed through without faults; absent when it has none. */
  readonly schedules?: ScheduleStore

  /** The wrapped provider's events, passed through without faults; absent when it has none. */
  readonly events?: EventStore

  /**
   * @param inner - the provider to wrap; it is initialized and closed through this wrapper
   * @param options - random faults; none by default
   * @throws ValidationError for rates outside 0..1, rates that add up to more than 1, or unknown methods
   */
  constructor(inner: StorageProvider, options: FaultOptions = {}) {
    if (!inner || typeof inner.insertWorkflowsAndTasks !== "function") {
      throw new ValidationError("FaultInjectingStorage wraps a StorageProvider: pass the provider to inject faults into")
    }
    this.inner = inner
    const readStatuses = inner.getWorkflowStatuses?.bind(inner)
    if (readStatuses) this.getWorkflowStatuses = (ids) => this.call("getWorkflowStatuses", () => readStatuses(ids))
    const readMany = inner.getWorkflows?.bind(inner)
    if (readMany) this.getWorkflows = (ids) => this.call("getWorkflows", () => readMany(ids))
    if (inner.schedules) this.schedules = inner.schedules
    const awaitChildren = inner.awaitChildren?.bind(inner)
    if (awaitChildren) this.awaitChildren = (park) => this.call("awaitChildren", () => awaitChildren(park))
    if (inner.events) this.events = inner.events
    this.options = resolveFaultOptions(NO_FAULTS, options)
    this.random = mulberry32(options.seed ?? 1)
    this.counters = {
      calls: Object.fromEntries(STORAGE_METHODS.map((m) => [m, 0])) as Record<StorageMethod, number>,
      faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>,
      delayed: 0,
      hanging: 0,
    }
  }

  /** Changes the random faults; fields not given keep their value. */
  configure(options: FaultOptions): void {
    this.options = resolveFaultOptions(this.options, options)
    if (options.seed !== undefined) this.random = mulberry32(options.seed)
  }

  /**
   * Starts or ends an outage: while on, every call but `close` fails at once
   * with `kind` (default `outage`, ECONNREFUSED; use `busy` for a SQLite file
   * another process keeps locked). Calls already delayed fail too when their
   * delay ends.
   */
  outage(on: boolean, kind: FaultKind = "outage"): void {
    assertKind(kind)
    this.outageKind = on ? kind : undefined
  }

  /** Whether an outage is on. */
  get inOutage(): boolean {
    return this.outageKind !== undefined
  }

  /**
   * Makes the next `n` calls of `method` fail with `kind` (default
   * `failure`), whatever the rates and `methods`. With `lostReply` the calls
   * take effect first.
   */
  failNext(method: StorageMethod, n = 1, kind: FaultKind = "failure"): void {
    assertKind(kind)
    this.script(method, n, kind)
  }

  /** Makes the next `n` calls of `method` hang until `hangMS`, `releaseHung()` or `heal()`; they then fail with `timeout`. */
  hangNext(method: StorageMethod, n = 1): void {
    this.script(method, n, "hang")
  }

  /** Fails every hanging call now with `timeout` (nothing was done). Returns how many there were. */
  releaseHung(): number {
    const release = [...this.hung]
    for (const fail of release) fail()
    return release.length
  }

  /** Ends every fault: rates and delays to 0, outage off, scripted faults dropped, hung calls released. */
  heal(): void {
    this.options = { ...NO_FAULTS, methods: this.options.methods }
    this.outageKind = undefined
    this.scripted.clear()
    this.releaseHung()
  }

  /** A snapshot of the counters. */
  stats(): FaultStats {
    return {
      calls: { ...this.counters.calls },
      faults: { ...this.counters.faults },
      delayed: this.counters.delayed,
      hanging: this.hung.size,
    }
  }

  // ---- StorageProvider ----------------------------------------------------

  init(): Promise<void> {
    return this.call("init", () => this.inner.init())
  }

  /** Closes the wrapped provider; calls still hanging fail first. */
  close(): Promise<void> {
    this.releaseHung()
    return this.call("close", () => this.inner.close())
  }

  insertWorkflowsAndTasks(workflows: NewWorkflow[]): Promise<boolean[]> {
    return this.call("insertWorkflowsAndTasks", () => this.inner.insertWorkflowsAndTasks(workflows))
  }

  claimWorkflows(claim: ClaimRequest): Promise<WorkflowWithTasks[]> {
    return this.call("claimWorkflows", () => this.inner.claimWorkflows(claim))
  }

  renewLeases(renewal: LeaseRenewal): Promise<string[]> {
    return this.call("renewLeases", () => this.inner.renewLeases(renewal))
  }

  releaseLeases(release: LeaseRelease): Promise<void> {
    return this.call("releaseLeases", () => this.inner.releaseLeases(release))
  }

  applyWorkflowWrites(writes: WorkflowWrite[]): Promise<boolean[]> {
    return this.call("applyWorkflowWrites", () => this.inner.applyWorkflowWrites(writes))
  }

  getWorkflow(id: string): Promise<WorkflowWithTasks | null> {
    return this.call("getWorkflow", () => this.inner.getWorkflow(id))
  }

  listWorkflows(filter: WorkflowFilter): Promise<WorkflowRow[]> {
    return this.call("listWorkflows", () => this.inner.listWorkflows(filter))
  }

  cancelWorkflow(id: string, now: number): Promise<boolean> {
    return this.call("cancelWorkflow", () => this.inner.cancelWorkflow(id, now))
  }

  retryWorkflow(retry: RetryRequest): Promise<boolean> {
    return this.call("retryWorkflow", () => this.inner.retryWorkflow(retry))
  }

  deleteEndedWorkflows(endedBefore: number): Promise<number> {
    return this.call("deleteEndedWorkflows", () => this.inner.deleteEndedWorkflows(endedBefore))
  }

  /** Passes the wrapped provider's notifications through, without faults (a no-op if it has none). */
  onWorkAvailable(listener: () => void): () => void {
    return this.inner.onWorkAvailable?.(listener) ?? (() => {})
  }

  /** Passes the wrapped provider's end notifications through, without faults (a no-op if it has none). */
  onWorkflowsEnded(listener: () => void): () => void {
    return this.inner.onWorkflowsEnded?.(listener) ?? (() => {})
  }

  /** Passes the wrapped provider's cancel notifications through, without faults (a no-op if it has none). */
  onWorkflowsCancelled(listener: (ids: string[]) => void): () => void {
    return this.inner.onWorkflowsCancelled?.(listener) ?? (() => {})
  }

  // ---- injection ----------------------------------------------------------

  private script(method: StorageMethod, n: number, what: Scripted): void {
    assertMethod(method)
    if (!Number.isInteger(n) || n < 0) throw new ValidationError(`n must be an integer >= 0, got ${String(n)}`)
    const queue = this.scripted.get(method) ?? []
    for (let i = 0; i < n; i++) queue.push(what)
    this.scripted.set(method, queue)
  }

  private async call<T>(method: StorageMethod, run: () => Promise<T>): Promise<T> {
    this.counters.calls[method]++
    if (this.outageKind !== undefined && method !== "close") throw this.fault(method, this.outageKind)

    const scripted = this.scripted.get(method)?.shift()
    if (scripted !== undefined) {
      if (scripted === "hang") return this.hang(method)
      if (scripted === "lostReply") await run()
      throw this.fault(method, scripted)
    }

    const o = this.options
    if (!o.methods.has(method)) return run()
    // Always three draws per call, so changing one rate does not shift the others' sequence.
    const pick = this.random()
    const delayed = this.random() < o.delayRate
    const delay = o.delayMS[0] + this.random() * (o.delayMS[1] - o.delayMS[0])
    if (delayed && delay > 0) {
      this.counters.delayed++
      await sleep(delay)
      if (this.outageKind !== undefined && method !== "close") throw this.fault(method, this.outageKind)
    }
    // The rates as they are now: a call delayed across heal() or configure() follows the new ones.
    const current = this.options
    if (!current.methods.has(method)) return run()
    let edge = current.failureRate
    if (pick < edge) throw this.fault(method, "failure")
    if (pick < (edge += current.busyRate)) throw this.fault(method, "busy")
    if (pick < (edge += current.hangRate)) return this.hang(method)
    if (pick < (edge += current.lostReplyRate)) {
      await run()
      throw this.fault(method, "lostReply")
    }
    return run()
  }

  private hang(method: StorageMethod): Promise<never> {
    const hangMS = this.options.hangMS
    return new Promise<never>((_, reject) => {
      let timer: NodeJS.Timeout | undefined
      const fail = () => {
        clearTimeout(timer)
        this.hung.delete(fail)
        reject(this.fault(method, "timeout"))
      }
      this.hung.add(fail)
      if (Number.isFinite(hangMS)) timer = setTimeout(fail, hangMS)
    })
  }

  private fault(method: StorageMethod, kind: FaultKind): InjectedStorageError {
    this.counters.faults[kind]++
    return new InjectedStorageError(kind, method)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
