/**
 * Refusing the keys an options object or a step does not take. A misspelled
 * key (`workflowId`, `concurency`, `dta`) would otherwise be ignored without
 * a word, and its option silently left at its default.
 *
 * @module
 */
import { ValidationError } from "./errors.js"

/**
 * Throws a ValidationError naming each own key of `value` that is neither in
 * `known` nor in `tolerated`, with the known key it is close to, if any:
 * `addWorkflow: unknown option "workflowId": did you mean "workflowID"? It takes workflowID, tasks, startAt and delayMS`.
 *
 * @param known - the keys `value` takes, listed in the message
 * @param what - names `value` at the start of the message
 * @param tolerated - keys let through without being listed (checked elsewhere with their own message)
 * @throws ValidationError
 */
export function refuseUnknownKeys(value: object, known: readonly string[], what: string, tolerated: readonly string[] = []): void {
  const unknown = Object.keys(value).filter((key) => !known.includes(key) && !tolerated.includes(key))
  if (unknown.length === 0) return
  const takes = known.length === 0 ? "It takes none" : `It takes ${listOf(known)}`
  if (unknown.length === 1) {
    const key = unknown[0] as string
    const close = closestKey(key, known)
    const hint = close === undefined ? "." : `: did you mean ${JSON.stringify(close)}?`
    throw new ValidationError(`${what}: unknown option ${JSON.stringify(key)}${hint} ${takes}`)
  }
  const named = unknown.map((key) => {
    const close = closestKey(key, known)
    return close === undefined ? JSON.stringify(key) : `${JSON.stringify(key)} (did you mean ${JSON.stringify(close)}?)`
  })
  throw new ValidationError(`${what}: unknown options ${named.join(", ")}. ${takes}`)
}

/**
 * The key of `known` that `key` is probably a misspelling of: equal but for
 * case, or one edit away (a character added, dropped, replaced, or two
 * neighbours swapped), ignoring case. `undefined` when none is.
 */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const lower = key.toLowerCase()
  return known.find((k) => k.toLowerCase() === lower) ?? known.find((k) => withinOneEdit(lower, k.toLowerCase()))
}

/** Whether `a` and `b` differ by at most one insertion, deletion, substitution or swap of neighbours. */
function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true
  if (Math.abs(a.length - b.length) > 1) return false
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2)
  }
  const [shorter, longer] = a.length < b.length ? [a, b] : [b, a]
  return shorter.slice(i) === longer.slice(i + 1)
}

/** `a`, `a and b`, `a, b and c`. */
function listOf(keys: readonly string[]): string {
  return keys.length === 1 ? (keys[0] as string) : `${keys.slice(0, -1).join(", ")} and ${keys[keys.length - 1] as string}`
}
