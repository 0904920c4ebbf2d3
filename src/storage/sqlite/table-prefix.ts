/**
 * The SQLite provider's check of its `tablePrefix`, in a file of its own so
 * the CLI can check `--table-prefix` without loading better-sqlite3.
 *
 * @module
 */
import { ValidationError } from "../../errors.js"

/** Table prefixes: letters, digits and `_`, not starting with a digit, at most 49 characters. */
const TABLE_PREFIX = /^[A-Za-z_][A-Za-z0-9_]{0,48}$/

/**
 * Checks a SQLite table prefix (it is interpolated into SQL, so nothing else
 * may pass).
 *
 * @param what - names the value in the error message (`"--table-prefix"` in the CLI)
 * @throws ValidationError naming the bad value
 */
export function validateSQLiteTablePrefix(prefix: unknown, what = "tablePrefix"): string {
  if (typeof prefix !== "string" || !TABLE_PREFIX.test(prefix)) {
    throw new ValidationError(`${what} ${JSON.stringify(prefix)} is invalid: use letters, digits and _ (at most 49), not starting with a digit`)
  }
  return prefix
}
