/**
 * The SQL names the Postgres provider derives from its options, validated once
 * here: nothing else interpolates a name into SQL.
 *
 * @module
 */
import { ValidationError } from "../../errors.js"
import { createHash } from "node:crypto"

/** Schema names: lower case so an unquoted name means the same to Postgres. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,40}$/
/** Table prefixes: like a schema name, or empty. */
const TABLE_PREFIX = /^([a-z_][a-z0-9_]{0,40})?$/

/** Every name the provider's SQL uses, each safe to interpolate unquoted. */
export interface PostgresNames {
  schema: string
  prefix: string
  /** `schema.prefixworkflows` */
  workflows: string
  /** `schema.prefixtasks` */
  tasks: string
  /** `schema.prefixschema_version` */
  schemaVersion: string
  /** `schema.prefixschedules` */
  schedules: string
  /** Indexes of the schedules table (no schema, as for `indexes`). */
  scheduleIndexes: { due: string; buffered: string }
  /** Index names carry no schema: Postgres puts an index in its table's schema. */
  indexes: { claimable: string; ended: string; status: string }
  /** LISTEN/NOTIFY channel of work becoming claimable: distinct per schema and prefix, at most 63 bytes. */
  channel: string
  /** LISTEN/NOTIFY channel of cancellations (the payload is the workflow ID): distinct per schema and prefix, at most 63 bytes. */
  cancelChannel: string
  /** LISTEN/NOTIFY channel of workflows ending (no payload): distinct per schema and prefix, at most 63 bytes. */
  endedChannel: string
  /** Key of the advisory lock that serializes `init()` across processes (a signed 64-bit integer, as text). */
  initLockKey: string
}

/**
 * Checks a Postgres schema name: lower-case letters, digits and `_`, not
 * starting with a digit, at most 41 characters.
 *
 * @param what - names the value in the error message (`"--schema"` in the CLI)
 * @throws ValidationError naming the bad value
 */
export function validatePostgresSchema(schema: unknown, what = "PostgresStorageProvider: schema"): string {
  if (typeof schema !== "string" || !SCHEMA_NAME.test(schema)) {
    throw new ValidationError(`${what} ${JSON.stringify(schema)} is invalid: use lower-case letters, digits and _ (at most 41), not starting with a digit`)
  }
  return schema
}

/**
 * Checks a Postgres table prefix: like a schema name, or `""`.
 *
 * @param what - names the value in the error message (`"--table-prefix"` in the CLI)
 * @throws ValidationError naming the bad value
 */
export function validatePostgresTablePrefix(prefix: unknown, what = "PostgresStorageProvider: tablePrefix"): string {
  if (typeof prefix !== "string" || !TABLE_PREFIX.test(prefix)) {
    throw new ValidationError(
      `${what} ${JSON.stringify(prefix)} is invalid: use lower-case letters, digits and _ (at most 41), not starting with a digit, or ""`,
    )
  }
  return prefix
}

/**
 * Validates the schema and table prefix and derives every name from them.
 *
 * @throws ValidationError naming the bad value when either is not a plain lower-case identifier
 */
export function postgresNames(schemaOption: unknown, prefixOption: unknown): PostgresNames {
  const schema = validatePostgresSchema(schemaOption)
  const prefix = validatePostgresTablePrefix(prefixOption)
  const digest = createHash("sha256").update(`durabletasks:${schema}.${prefix}`).digest()
  return {
    schema,
    prefix,
    workflows: `${schema}.${prefix}workflows`,
    tasks: `${schema}.${prefix}tasks`,
    schemaVersion: `${schema}.${prefix}schema_version`,
    schedules: `${schema}.${prefix}schedules`,
    scheduleIndexes: { due: `${prefix}schedules_due`, buffered: `${prefix}schedules_buffered` },
    indexes: {
      claimable: `${prefix}workflows_claimable`,
      ended: `${prefix}workflows_ended_at`,
      status: `${prefix}workflows_not_completed`,
    },
    // Channels are database-wide, so the schema must be in it; a hash keeps it short.
    channel: `${prefix}work_${digest.subarray(0, 6).toString("hex")}`,
    cancelChannel: `${prefix}cancel_${digest.subarray(0, 6).toString("hex")}`,
    endedChannel: `${prefix}ended_${digest.subarray(0, 6).toString("hex")}`,
    initLockKey: digest.readBigInt64BE(8).toString(),
  }
}
