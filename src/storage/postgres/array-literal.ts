/**
 * Array parameters written as Postgres array literals (`{"a","b",NULL}`)
 * here, rather than by pg.
 *
 * A batch write passes each column of its rows as one array parameter
 * (expanded by `unnest`). pg turns a JavaScript array into its text form by
 * checking the type of every element and growing the literal one piece at a
 * time; for the 19 arrays of a batch of 100 that was the largest allocation
 * of a runner draining stored work (3.7 KB per workflow in a sampling heap
 * profile) and a tenth of its CPU. Writing the literal with one `join` per
 * array sends the same text: the server parses it as before.
 *
 * @module
 */

/** Elements that need a backslash in a quoted array element. */
const NEEDS_ESCAPE = /["\\]/

/**
 * The literal of a `text[]`: every element quoted (so `NULL`, `{}`, commas and
 * spaces are kept as text), `"` and `\` escaped; `null` and `undefined` are SQL NULL.
 */
export function textArray(values: ReadonlyArray<string | null | undefined>): string {
  const parts = new Array<string>(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (v === null || v === undefined) parts[i] = "NULL"
    else if (NEEDS_ESCAPE.test(v)) parts[i] = `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`
    else parts[i] = `"${v}"`
  }
  return `{${parts.join(",")}}`
}

/**
 * The literal of an `int[]` or `bigint[]`: each number in JavaScript's decimal
 * form, as pg writes it (a value the column cannot hold is refused by the
 * server, as before); `null` and `undefined` are SQL NULL.
 */
export function numberArray(values: ReadonlyArray<number | null | undefined>): string {
  const parts = new Array<string>(values.length)
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    parts[i] = v === null || v === undefined ? "NULL" : String(v)
  }
  return `{${parts.join(",")}}`
}
