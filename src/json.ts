/**
 * The one place values cross into and out of stored JSON.
 *
 * Everything a task sees downstream is the parsed stored text, never the live
 * value it returned, so the first run and a run after recovery see the same
 * thing (a `Date` becomes its ISO string both times).
 */
import { SerializationError } from "./errors.js"

/**
 * Serializes `value` to JSON text, refusing what JSON would silently drop or
 * cannot carry: BigInt, functions, symbols, cycles, Map, Set, and non-finite
 * numbers. `undefined` at the top level is stored as `null`. `Date` and other
 * objects with `toJSON` are stored as their `toJSON()`.
 *
 * @param what - names the value in error messages ("data of task 'a'").
 * @throws SerializationError
 */
export function toJSONText(value: unknown, what: string, maxBytes: number): string {
  if (value === undefined) return "null"
  const path: string[] = []
  const ancestors: object[] = []
  let text: string | undefined
  try {
    text = JSON.stringify(value, function (this: unknown, key: string, v: unknown) {
      // `this` is the holder; keep the ancestor stack in step with it for cycle detection.
      while (ancestors.length > 0 && ancestors[ancestors.length - 1] !== this) {
        ancestors.pop()
        path.pop()
      }
      const where = () => [...path, key].filter((p) => p !== "").join(".") || "(top level)"
      switch (typeof v) {
        case "bigint":
          throw new SerializationError(`${what} contains a BigInt at ${where()}: convert it to a string or number`)
        case "function":
          throw new SerializationError(`${what} contains a function at ${where()}: JSON cannot store functions`)
        case "symbol":
          throw new SerializationError(`${what} contains a symbol at ${where()}: JSON cannot store symbols`)
        case "number":
          if (!Number.isFinite(v)) {
            throw new SerializationError(`${what} contains ${String(v)} at ${where()}: JSON cannot store it`)
          }
          return v
        case "object":
          if (v === null) return v
          if (v instanceof Map || v instanceof Set) {
            throw new SerializationError(
              `${what} contains a ${v instanceof Map ? "Map" : "Set"} at ${where()}: convert it to an object or array`,
            )
          }
          if (ancestors.includes(v)) {
            throw new SerializationError(`${what} contains a cycle at ${where()}`)
          }
          ancestors.push(v)
          path.push(key)
          return v
        default:
          return v
      }
    })
  } catch (error) {
    if (error instanceof SerializationError) throw error
    throw new SerializationError(`${what} cannot be stored as JSON: ${(error as Error).message}`)
  }
  if (text === undefined) text = "null"
  const bytes = Buffer.byteLength(text, "utf8")
  if (bytes > maxBytes) {
    throw new SerializationError(`${what} is ${bytes} bytes as JSON, over the limit of ${maxBytes} (option maxPayloadBytes)`)
  }
  return text
}

/** Parses stored JSON text. Stored rows outlive code, so the result is `unknown`. */
export function fromJSONText(text: string | null): unknown {
  return text === null ? undefined : (JSON.parse(text) as unknown)
}
