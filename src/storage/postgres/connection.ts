/**
 * How the Postgres provider talks to its pool: single statements and
 * transactions, each retried only where running it again cannot do what the
 * caller's own retry would not.
 *
 * A lost connection may leave a write's fate unknown. The rules:
 * - A statement that never reached the server is retried: the pool could not
 *   connect, or pg knew the client was dead before sending.
 * - A transaction that loses its connection before `COMMIT` is sent was rolled
 *   back by the server, and is retried on a fresh connection.
 * - Reads and idempotent writes (lease renewals and releases) are retried on
 *   any lost connection.
 * - A write whose session the server ended (SQLSTATE 57P01 terminated,
 *   57P02 crash shutdown, 57P03 starting up) is retried too. The server
 *   aborts what it runs when it ends a session, so the write did not happen,
 *   unless the session ended in the instant between its commit and its reply.
 *   Then running it again does what the caller's retry would: an insert finds
 *   the workflow existing, a fenced update finds itself fenced (the runner
 *   retries storage writes, and `addWorkflow` is documented safe to retry).
 *   This is also what an idle pooled client whose session was killed (a
 *   restart, a failover, `pg_terminate_backend`) reports for the next
 *   statement sent on it.
 * - Any other loss of the connection during a write (a socket reset, a
 *   timeout) is thrown; during `COMMIT` as an "outcome unknown" error.
 * - A serialization failure or deadlock (SQLSTATE 40001, 40P01) rolls back the
 *   statement or transaction: it is retried with backoff. CockroachDB needs
 *   this; Postgres can deadlock when batches lock rows in other orders.
 * At most a few retries are made for lost connections (a dead pool may hand out
 * several dead idle clients, each discarded on failure).
 *
 * @module
 */
import { createHash } from "node:crypto"
import type pg from "pg"

/** The part of a pg client the operations use. */
export type Queryable = Pick<pg.PoolClient, "query">

/** Parameters of one statement. */
export type Params = ReadonlyArray<unknown>

/**
 * Whether a statement may run twice: `"idempotent"` when running it again
 * gives the same rows and state; `"once"` when a second run could report
 * differently, so it runs again only where the rules above allow.
 */
export type Repeatable = "idempotent" | "once"

const SERIALIZATION_RETRIES = 8
/** A pool whose server restarted may hold several dead idle clients; each failed try discards one. */
const CONNECTION_RETRIES = 3

/** Runs statements and transactions on a pool, with the retry rules above. */
export class PostgresConnection {
  /** Clients that carry {@link ignoreClientError}. */
  private readonly guarded = new WeakSet<pg.PoolClient>()

  /** Statement name by SQL text, when statements are prepared. */
  private readonly names = new Map<string, string>()

  /**
   * @param preparedStatements - run the provider's statements as named
   *   prepared statements: each connection parses and plans a statement once
   *   and then only binds and executes it (the planning of these CTEs costs
   *   about as much as running them on small batches). Turn off behind a
   *   pooler that cannot keep prepared statements (PgBouncer in transaction
   *   mode before 1.21).
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly preparedStatements = true,
  ) {}

  /**
   * The query to send for `text`: named (prepared once per connection) when
   * statements are prepared. The name is a hash of the text, so providers
   * sharing a pool (other schemas or prefixes, other SQL) never reuse a name
   * for different SQL.
   */
  query(text: string, params: Params): pg.QueryConfig {
    const values = params as unknown[]
    if (!this.preparedStatements) return { text, values }
    let name = this.names.get(text)
    if (name === undefined) {
      name = `durabletasks_${createHash("sha256").update(text).digest("hex").slice(0, 32)}`
      this.names.set(text, name)
    }
    return { name, text, values }
  }

  /** Runs one statement (its own implicit transaction) and returns its rows. */
  async statement<R extends pg.QueryResultRow>(text: string, params: Params, repeatable: Repeatable): Promise<R[]> {
    let connectionRetries = 0
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient
      try {
        client = await this.acquire()
      } catch (error) {
        if (isConnectionError(error) && connectionRetries++ < CONNECTION_RETRIES) continue
        throw error
      }
      try {
        const result = await client.query<R>(this.query(text, params))
        client.release()
        return result.rows
      } catch (error) {
        const lost = isConnectionError(error)
        client.release(lost ? asError(error) : undefined)
        const runsAgain = repeatable === "idempotent" || neverSent(error) || serverEndedSession(error)
        if (lost && runsAgain && connectionRetries++ < CONNECTION_RETRIES) continue
        if (isRolledBack(error) && attempt < SERIALIZATION_RETRIES) {
          await backoff(attempt)
          continue
        }
        throw error
      }
    }
  }

  /**
   * Runs `work` in one transaction and commits it. `work` may run again (on a
   * fresh connection) under the rules above, so it must not have effects
   * outside the transaction.
   *
   * @throws the error of `work` or of the database; an Error saying the outcome
   *   is unknown when the connection was lost during `COMMIT`
   */
  async transaction<T>(work: (client: Queryable) => Promise<T>): Promise<T> {
    let connectionRetries = 0
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient
      try {
        client = await this.acquire()
      } catch (error) {
        if (isConnectionError(error) && connectionRetries++ < CONNECTION_RETRIES) continue
        throw error
      }
      let committing = false
      try {
        await client.query("BEGIN")
        const result = await work(client)
        committing = true
        await client.query("COMMIT")
        client.release()
        return result
      } catch (error) {
        const lost = isConnectionError(error)
        if (lost) client.release(asError(error))
        else await rollbackAndRelease(client, committing)
        if (lost && committing && !serverEndedSession(error)) {
          throw new Error(
            `the connection to Postgres was lost during COMMIT, so the transaction may or may not have committed: ${errorText(error)}`,
            { cause: error },
          )
        }
        if (lost && connectionRetries++ < CONNECTION_RETRIES) continue
        if (isRolledBack(error) && attempt < SERIALIZATION_RETRIES) {
          await backoff(attempt)
          continue
        }
        throw error
      }
    }
  }

  /**
   * Takes a client from the pool after letting pending socket events run: an
   * idle client whose server session just ended has usually received the
   * server's goodbye by then, and the pool drops it instead of handing it out.
   */
  private async acquire(): Promise<pg.PoolClient> {
    await new Promise((resolve) => setImmediate(resolve))
    const client = await this.pool.connect()
    if (!this.guarded.has(client)) {
      this.guarded.add(client)
      client.on("error", ignoreClientError)
    }
    return client
  }
}

/**
 * pg-pool listens for a client's `error` only while the client is idle. A
 * checked-out client whose session ends while no statement of it is running
 * has no query to fail: pg emits `error` on the client, and without a listener
 * that kills the process. A server restart does this to busy clients: its
 * "terminating connection" arrives in the same socket read as the reply to the
 * statement just answered, before the caller's continuation could release it.
 * This listener stays for the client's life: pg has already marked the client
 * unusable, so its next statement fails with "not queryable" (and is retried
 * on another client), and releasing it removes it from the pool.
 */
function ignoreClientError(): void {}

async function rollbackAndRelease(client: pg.PoolClient, committing: boolean): Promise<void> {
  // A failed COMMIT has already ended the transaction.
  if (committing) {
    client.release()
    return
  }
  try {
    await client.query("ROLLBACK")
    client.release()
  } catch (error) {
    client.release(asError(error))
  }
}

/** SQLSTATE of a server error, or the Node error code of a socket error. */
function errorCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null || !("code" in error)) return undefined
  const code = (error as { code: unknown }).code
  return typeof code === "string" ? code : undefined
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

const SOCKET_ERRORS = new Set(["ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "ENOTCONN", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"])

/**
 * Whether `error` means the connection is gone (rather than the statement
 * being refused): socket errors, the server ending the session (class 57P),
 * SQLSTATE class 08, and pg's own messages for a dead client.
 */
export function isConnectionError(error: unknown): boolean {
  const code = errorCode(error)
  if (code !== undefined && (SOCKET_ERRORS.has(code) || code.startsWith("08") || code.startsWith("57P"))) return true
  return /Connection terminated|not queryable|timeout exceeded when trying to connect/i.test(errorText(error))
}

/** pg refuses a query on a client it already knows is dead, before sending anything. */
function neverSent(error: unknown): boolean {
  return /not queryable/.test(errorText(error))
}

/** The server ended the session: terminated by an admin, crash shutdown, or not accepting connections yet. */
function serverEndedSession(error: unknown): boolean {
  const code = errorCode(error)
  return code === "57P01" || code === "57P02" || code === "57P03"
}

/** Serialization failure or deadlock: the server rolled the work back, so it may run again. */
function isRolledBack(error: unknown): boolean {
  const code = errorCode(error)
  return code === "40001" || code === "40P01"
}

function backoff(attempt: number): Promise<void> {
  const ms = Math.min(5 * 2 ** attempt, 200) * (0.5 + Math.random())
  return new Promise((resolve) => setTimeout(resolve, ms))
}
