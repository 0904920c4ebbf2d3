/**
 * Bounded waits and cleanups for tests, so that a failing test fails in
 * seconds instead of hanging its file: every wait (for a promise, an event or
 * a condition) ends, and when it times out the failure says what did not
 * happen; everything a test starts is stopped when it ends, pass or fail.
 */
import type { EventEmitter } from "node:events"
import type { TestContext } from "node:test"
import type { RunnerEventMap } from "../../src/index.js"

/** How long a wait lasts by default: ample for anything that works, short enough to fail fast. */
export const WAIT_MS = 5_000

/** Options of {@link waitFor} and {@link nextEvent}. */
export interface WaitOptions {
  /** What is awaited, in words: a timeout fails with "<what> did not happen within N ms". */
  what: string
  /** Give up after this long. Default {@link WAIT_MS}. */
  timeoutMS?: number
}

/** A runner event to wait for, optionally only one whose payload passes `filter`. */
export interface EventSource<K extends keyof RunnerEventMap> {
  emitter: EventEmitter<RunnerEventMap>
  event: K
  filter?: (...args: RunnerEventMap[K]) => boolean
}

type NotYet = undefined | null | false

/**
 * Waits, within a bound, for a promise to settle, for a condition to return
 * something other than `undefined`, `null` or `false` (polled every 10 ms),
 * or for a runner event. Rejects with "<what> did not happen within N ms".
 */
export function waitFor<T>(source: PromiseLike<T>, options: WaitOptions): Promise<T>
export function waitFor<T>(source: () => T | NotYet | PromiseLike<T | NotYet>, options: WaitOptions): Promise<T>
export function waitFor<K extends keyof RunnerEventMap>(source: EventSource<K>, options: WaitOptions): Promise<RunnerEventMap[K][0]>
export function waitFor(source: unknown, options: WaitOptions): Promise<unknown> {
  if (typeof source === "function") return poll(source as () => unknown, options)
  if (isEventSource(source)) return nextEvent(source.emitter, source.event, { ...options, filter: source.filter as never })
  return within(Promise.resolve(source as PromiseLike<unknown>), options)
}

/**
 * Subscribes at once to the next `event` of `emitter` (passing `filter`, if
 * given) and resolves with its payload; rejects if it has not come within the
 * bound. Call it before the action that causes the event, await it after.
 */
export function nextEvent<K extends keyof RunnerEventMap>(
  emitter: EventEmitter<RunnerEventMap>,
  event: K,
  options: WaitOptions & { filter?: (...args: RunnerEventMap[K]) => boolean },
): Promise<RunnerEventMap[K][0]> {
  const loose = emitter as unknown as EventEmitter
  let listener: ((...args: unknown[]) => void) | undefined
  const arrived = new Promise<RunnerEventMap[K][0]>((resolve) => {
    listener = (...args: unknown[]) => {
      if (options.filter && !options.filter(...(args as RunnerEventMap[K]))) return
      loose.off(event, listener!)
      resolve(args[0] as RunnerEventMap[K][0])
    }
    loose.on(event, listener)
  })
  const bounded = within(arrived, { ...options, what: `${options.what} (event ${String(event)})` }).finally(() => loose.off(event, listener!))
  // Awaited later, or never if the test failed before: an early timeout must not surface as an unhandled rejection.
  bounded.catch(() => {})
  return bounded
}

/** `promise`, or a rejection once `timeoutMS` has passed without it settling. */
function within<T>(promise: Promise<T>, options: WaitOptions): Promise<T> {
  const timeoutMS = options.timeoutMS ?? WAIT_MS
  let timer: NodeJS.Timeout | undefined
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${options.what} did not happen within ${timeoutMS} ms`)), timeoutMS)
    // The bound must not keep a process alive by itself once the test is over.
    timer.unref()
  })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

async function poll<T>(condition: () => T | NotYet | PromiseLike<T | NotYet>, options: WaitOptions): Promise<T> {
  const timeoutMS = options.timeoutMS ?? WAIT_MS
  const deadline = Date.now() + timeoutMS
  for (;;) {
    const value = await condition()
    if (value !== undefined && value !== null && value !== false) return value
    if (Date.now() > deadline) throw new Error(`${options.what} did not happen within ${timeoutMS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

function isEventSource(value: unknown): value is EventSource<keyof RunnerEventMap> {
  return typeof value === "object" && value !== null && "emitter" in value && "event" in value
}

const cleanups = new WeakMap<TestContext, Array<{ what: string; fn: () => unknown; timeoutMS: number }>>()

/**
 * Runs `fn` when test `t` ends, pass or fail (also when it times out). The
 * last registered runs first, as a stack: stop a runner before removing its
 * store. Each cleanup is bounded by `timeoutMS`; one that fails or hangs
 * fails the test, and the others still run.
 */
export function onTestEnd(t: TestContext, what: string, fn: () => unknown, timeoutMS = 15_000): void {
  let stack = cleanups.get(t)
  if (!stack) {
    const registered: Array<{ what: string; fn: () => unknown; timeoutMS: number }> = []
    stack = registered
    cleanups.set(t, registered)
    t.after(async () => {
      const errors: unknown[] = []
      for (const cleanup of registered.splice(0).reverse()) {
        try {
          await within(Promise.resolve().then(cleanup.fn), { what: `cleanup: ${cleanup.what}`, timeoutMS: cleanup.timeoutMS })
        } catch (error) {
          errors.push(error)
        }
      }
      if (errors.length === 1) throw errors[0]
      if (errors.length > 1) throw new AggregateError(errors, `${errors.length} cleanups failed`)
    })
  }
  stack.push({ what, fn, timeoutMS })
}
