/**
 * The random faults of `FaultInjectingStorage`: the options a user gives,
 * and the same options checked and resolved against the current ones.
 *
 * @module
 */
import { ValidationError } from "../errors.js"
import { STORAGE_METHODS, assertMethod, type StorageMethod } from "./fault-kinds.js"

/** Random faults of a `FaultInjectingStorage`. Every field may be changed later with `configure`. */
export interface FaultOptions {
  /** Share of calls (0 to 1) that fail with a `failure` before reaching the wrapped provider. Default 0. */
  failureRate?: number
  /** Share of calls that fail with `busy` ("database is locked") before reaching the provider. Default 0. */
  busyRate?: number
  /**
   * Share of calls that hang: they neither resolve nor reject until `hangMS`
   * has passed or `FaultInjectingStorage.releaseHung` / `heal()` is
   * called, then fail with `timeout`, having done nothing. Default 0.
   */
  hangRate?: number
  /** How long a hung call hangs before failing. Default `Infinity`: until released. */
  hangMS?: number
  /**
   * Share of calls that reach the wrapped provider and take effect, and then
   * fail with `lostReply` anyway. Default 0.
   */
  lostReplyRate?: number
  /** Delay before a call goes on: a fixed number of ms, or `[min, max]` drawn uniformly. Default 0. */
  delayMS?: number | readonly [number, number]
  /** Share of calls that get `delayMS`. Default 1 (every call). */
  delayRate?: number
  /**
   * The methods random faults and delays apply to. Default: every method but
   * `close`. Outages and scripted faults (`failNext`, `hangNext`) ignore it.
   */
  methods?: readonly StorageMethod[]
  /** Seed of the PRNG that draws random faults. Default 1. Setting it in `configure` restarts the sequence. */
  seed?: number
}

/** {@link FaultOptions} checked, with every field set. */
export interface ResolvedOptions {
  failureRate: number
  busyRate: number
  hangRate: number
  hangMS: number
  lostReplyRate: number
  delayMS: readonly [number, number]
  delayRate: number
  methods: ReadonlySet<StorageMethod>
}

/** No random fault and no delay, on every method but `close`. */
export const NO_FAULTS: ResolvedOptions = {
  failureRate: 0,
  busyRate: 0,
  hangRate: 0,
  hangMS: Infinity,
  lostReplyRate: 0,
  delayMS: [0, 0],
  delayRate: 1,
  methods: new Set(STORAGE_METHODS.filter((m) => m !== "close")),
}

/** `options` checked, over `base` for the fields they leave out. */
export function resolveFaultOptions(base: ResolvedOptions, options: FaultOptions): ResolvedOptions {
  if (typeof options !== "object" || options === null) throw new ValidationError("fault options must be an object")
  const rate = (value: number | undefined, name: string, fallback: number): number => {
    if (value === undefined) return fallback
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      throw new ValidationError(`${name} must be a number from 0 to 1, got ${String(value)}`)
    }
    return value
  }
  const resolved: ResolvedOptions = {
    failureRate: rate(options.failureRate, "failureRate", base.failureRate),
    busyRate: rate(options.busyRate, "busyRate", base.busyRate),
    hangRate: rate(options.hangRate, "hangRate", base.hangRate),
    lostReplyRate: rate(options.lostReplyRate, "lostReplyRate", base.lostReplyRate),
    delayRate: rate(options.delayRate, "delayRate", base.delayRate),
    hangMS: base.hangMS,
    delayMS: base.delayMS,
    methods: base.methods,
  }
  const sum = resolved.failureRate + resolved.busyRate + resolved.hangRate + resolved.lostReplyRate
  if (sum > 1 + 1e-9) {
    throw new ValidationError(`failureRate + busyRate + hangRate + lostReplyRate must be at most 1, got ${sum}`)
  }
  if (options.hangMS !== undefined) {
    if (typeof options.hangMS !== "number" || !(options.hangMS >= 0)) {
      throw new ValidationError(`hangMS must be a number >= 0 (Infinity: until released), got ${String(options.hangMS)}`)
    }
    resolved.hangMS = options.hangMS
  }
  if (options.delayMS !== undefined) {
    const [min, max] = typeof options.delayMS === "number" ? [options.delayMS, options.delayMS] : options.delayMS
    if (typeof min !== "number" || typeof max !== "number" || !(min >= 0) || !(max >= min) || !Number.isFinite(max)) {
      throw new ValidationError(`delayMS must be a finite number >= 0 or [min, max] with 0 <= min <= max, got ${JSON.stringify(options.delayMS)}`)
    }
    resolved.delayMS = [min, max]
  }
  if (options.methods !== undefined) {
    if (!Array.isArray(options.methods)) throw new ValidationError("methods must be an array of StorageProvider method names")
    for (const m of options.methods) assertMethod(m)
    resolved.methods = new Set(options.methods)
  }
  if (options.seed !== undefined && (typeof options.seed !== "number" || !Number.isFinite(options.seed))) {
    throw new ValidationError(`seed must be a finite number, got ${String(options.seed)}`)
  }
  return resolved
}
