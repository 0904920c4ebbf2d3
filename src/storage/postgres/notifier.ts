/**
 * Wake-ups over LISTEN/NOTIFY: the SQL fragment that notifies inside a
 * provider's own statements, and the dedicated connection that listens.
 *
 * @module
 */
import type pg from "pg"
import { errorMessage, type Logger } from "../../logger.js"
import { isConnectionError } from "./connection.js"
import type { PostgresNames } from "./names.js"

/**
 * A result column that sends a notification, at commit, for each returned row
 * matching `condition`. Postgres folds identical notifications of one
 * transaction into one, and sends none if it rolls back; notifying inside the
 * write costs no extra round trip. The channel is a validated identifier, so
 * it can be a literal.
 */
export function notifyColumn(n: PostgresNames, notify: boolean, condition: string, channel = n.channel): string {
  return notify ? `, CASE WHEN ${condition} THEN pg_notify('${channel}', '')::text END AS notified_${channel}` : ""
}

const FIRST_RETRY_MS = 100
const MAX_RETRY_MS = 10_000

/** The channels a {@link WorkNotifier} listens on. */
export interface NotifierChannels {
  /** Work became claimable (no payload). */
  work: string
  /** A workflow was cancelled (the payload is its ID). */
  cancel: string
  /** Workflows ended (no payload). */
  ended: string
}

/**
 * Holds one LISTEN connection while anyone is subscribed, to work and to
 * cancellations, and calls the subscribers on each notification. A lost
 * connection (killed backend, restart, network) is replaced with growing
 * delays; after each reconnect the work subscribers are called once, since
 * work may have appeared meanwhile (cancellations missed meanwhile are found
 * by the runners' polls).
 */
export class WorkNotifier {
  private readonly listeners = new Set<() => void>()
  private readonly cancelListeners = new Set<(ids: string[]) => void>()
  private readonly endedListeners = new Set<() => void>()
  private client: pg.Client | undefined
  private retryTimer: NodeJS.Timeout | undefined
  /** Bumped whenever the current connection is given up, so events of older clients are ignored. */
  private generation = 0
  private failures = 0
  private listenedBefore = false

  /**
   * @param channels - the validated channel names
   * @param createClient - returns a new, unconnected client
   */
  constructor(
    private readonly channels: NotifierChannels,
    private readonly createClient: () => pg.Client,
    private readonly logger: Logger | undefined,
  ) {}

  /** Adds a listener to work becoming claimable; the first listener opens the connection. Returns its unsubscribe function. */
  subscribe(listener: () => void): () => void {
    return this.add(this.listeners, () => listener())
  }

  /** Adds a listener to cancellations, called with the cancelled IDs; the first listener opens the connection. Returns its unsubscribe function. */
  subscribeCancels(listener: (ids: string[]) => void): () => void {
    return this.add(this.cancelListeners, (ids: string[]) => listener(ids))
  }

  /** Adds a listener to workflows ending; the first listener opens the connection. Returns its unsubscribe function. */
  subscribeEnded(listener: () => void): () => void {
    return this.add(this.endedListeners, () => listener())
  }

  /** Drops every listener and closes the connection. */
  async close(): Promise<void> {
    this.listeners.clear()
    this.cancelListeners.clear()
    this.endedListeners.clear()
    await this.disconnect()
  }

  private get subscribers(): number {
    return this.listeners.size + this.cancelListeners.size + this.endedListeners.size
  }

  private add<L>(set: Set<L>, wrapped: L): () => void {
    set.add(wrapped)
    if (this.subscribers === 1) {
      this.listenedBefore = false
      this.failures = 0
      void this.connect()
    }
    return () => {
      if (set.delete(wrapped) && this.subscribers === 0) void this.disconnect()
    }
  }

  private async connect(): Promise<void> {
    const generation = ++this.generation
    let client: pg.Client
    try {
      client = this.createClient()
    } catch (error) {
      this.logger?.error?.(`durabletasks: cannot create the LISTEN connection (${errorMessage(error)}); runners will only poll`)
      return
    }
    this.client = client
    // Keep an 'error' handler on every client for good: an unhandled one kills the process.
    client.on("error", (error: Error) => this.lost(client, generation, error))
    client.on("end", () => this.lost(client, generation, new Error("the connection ended")))
    client.on("notification", (message: pg.Notification) => {
      if (message.channel === this.channels.work) this.wake()
      else if (message.channel === this.channels.cancel && message.payload) this.tellCancelled([message.payload])
      else if (message.channel === this.channels.ended) this.tell(this.endedListeners, "workflow-ended")
    })
    try {
      await client.connect()
    } catch (error) {
      this.lost(client, generation, error)
      return
    }
    try {
      await client.query(`LISTEN ${this.channels.cancel}`)
      await client.query(`LISTEN ${this.channels.ended}`)
      // Last, so pg_stat_activity shows this connection's query as `LISTEN <work channel>` (tools and tests look for it).
      await client.query(`LISTEN ${this.channels.work}`)
    } catch (error) {
      if (isConnectionError(error)) this.lost(client, generation, error)
      else this.refused(client, generation, error)
      return
    }
    if (generation !== this.generation) {
      // Unsubscribed, closed, or already lost while connecting.
      void client.end().catch(() => {})
      return
    }
    this.failures = 0
    if (this.listenedBefore) {
      this.logger?.info?.(`durabletasks: LISTEN connection to Postgres restored (channel ${this.channels.work})`)
      this.wake()
      // Ends may have been missed meanwhile too.
      this.tell(this.endedListeners, "workflow-ended")
    }
    this.listenedBefore = true
  }

  private lost(client: pg.Client, generation: number, error: unknown): void {
    void client.end().catch(() => {})
    if (generation !== this.generation) return
    this.generation++
    this.client = undefined
    if (this.subscribers === 0) return
    const delay = Math.min(FIRST_RETRY_MS * 2 ** this.failures, MAX_RETRY_MS) * (0.75 + Math.random() / 2)
    this.failures++
    this.logger?.warn?.(
      `durabletasks: LISTEN connection to Postgres lost (${errorMessage(error)}); reconnecting in ${Math.round(delay)} ms. Runners keep polling meanwhile.`,
    )
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      if (this.subscribers > 0) void this.connect()
    }, delay)
    this.retryTimer.unref()
  }

  /** The server refuses LISTEN itself (no LISTEN/NOTIFY there): retrying would not help. */
  private refused(client: pg.Client, generation: number, error: unknown): void {
    void client.end().catch(() => {})
    if (generation !== this.generation) return
    this.generation++
    this.client = undefined
    this.logger?.error?.(
      `durabletasks: this database refuses LISTEN (${errorMessage(error)}); runners will only poll. Pass notifications: false to PostgresStorageProvider to silence this.`,
    )
  }

  private async disconnect(): Promise<void> {
    this.generation++
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const client = this.client
    this.client = undefined
    if (client) await client.end().catch(() => {})
  }

  private tellCancelled(ids: string[]): void {
    for (const listener of [...this.cancelListeners]) {
      try {
        listener([...ids])
      } catch (error) {
        this.logger?.error?.(`durabletasks: a cancellation listener threw: ${errorMessage(error)}`)
      }
    }
  }

  private wake(): void {
    this.tell(this.listeners, "work-available")
  }

  private tell(listeners: Set<() => void>, what: string): void {
    for (const listener of [...listeners]) {
      try {
        listener()
      } catch (error) {
        this.logger?.error?.(`durabletasks: a ${what} listener threw: ${errorMessage(error)}`)
      }
    }
  }
}
