/**
 * Autovacuum's schedule, run by hand: for a server whose autovacuum is off
 * (the CI server's is, by a conf.d setting), a loop that reads the activity
 * counters of one schema's tables every `naptime` and runs `VACUUM (ANALYZE)`
 * or `ANALYZE` on a table when autovacuum would (the thresholds of
 * `relation_needs_vacanalyze` in Postgres' autovacuum.c, from the server's
 * settings and each table's reloptions), throttled as autovacuum is (its
 * cost delay and cost limit).
 *
 * @module
 */
import pg from "pg"

/** The server settings autovacuum decides and throttles by. */
export interface AutovacuumSettings {
  /** Whether the server's own autovacuum is on (then this loop would double it). */
  serverAutovacuum: boolean
  vacuumThreshold: number
  vacuumScaleFactor: number
  /** -1 switches insert-triggered vacuums off. */
  insertThreshold: number
  insertScaleFactor: number
  analyzeThreshold: number
  analyzeScaleFactor: number
  /** `autovacuum_vacuum_cost_delay` in ms (or `vacuum_cost_delay` when that is -1). */
  costDelayMS: number
  /** `autovacuum_vacuum_cost_limit` (or `vacuum_cost_limit` when that is -1). */
  costLimit: number
  /** The server's `autovacuum_naptime` in seconds (how often production checks each database). */
  naptimeS: number
}

/** Reads {@link AutovacuumSettings} from `pg_settings`. */
export async function readAutovacuumSettings(client: pg.Client): Promise<AutovacuumSettings> {
  const { rows } = await client.query<{ name: string; setting: string }>(
    "SELECT name, setting FROM pg_settings WHERE name LIKE 'autovacuum%' OR name IN ('vacuum_cost_delay', 'vacuum_cost_limit')",
  )
  const s = new Map(rows.map((r) => [r.name, r.setting]))
  const num = (name: string) => {
    const value = Number(s.get(name))
    if (!Number.isFinite(value)) throw new Error(`the server has no numeric setting ${name}`)
    return value
  }
  const delay = num("autovacuum_vacuum_cost_delay")
  const limit = num("autovacuum_vacuum_cost_limit")
  return {
    serverAutovacuum: s.get("autovacuum") === "on",
    vacuumThreshold: num("autovacuum_vacuum_threshold"),
    vacuumScaleFactor: num("autovacuum_vacuum_scale_factor"),
    insertThreshold: s.has("autovacuum_vacuum_insert_threshold") ? num("autovacuum_vacuum_insert_threshold") : -1,
    insertScaleFactor: s.has("autovacuum_vacuum_insert_scale_factor") ? num("autovacuum_vacuum_insert_scale_factor") : 0,
    analyzeThreshold: num("autovacuum_analyze_threshold"),
    analyzeScaleFactor: num("autovacuum_analyze_scale_factor"),
    costDelayMS: delay >= 0 ? delay : num("vacuum_cost_delay"),
    costLimit: limit > 0 ? limit : num("vacuum_cost_limit"),
    naptimeS: num("autovacuum_naptime"),
  }
}

/** One table's counters, as autovacuum reads them. */
export interface TableCounters {
  table: string
  /** `pg_class.reltuples` (-1 before the first VACUUM or ANALYZE). */
  reltuples: number
  deadTuples: number
  insertedSinceVacuum: number
  modifiedSinceAnalyze: number
  reloptions: string[] | null
}

/** What autovacuum would do to a table now, and the thresholds it compared with. */
export interface Decision {
  vacuum: boolean
  analyze: boolean
  /** Why it vacuums: dead tuples or inserts past their threshold. */
  reason: string
  vacuumThreshold: number
  insertThreshold: number
  analyzeThreshold: number
}

/**
 * Autovacuum's decision for one table (PG 13–17 `relation_needs_vacanalyze`):
 * vacuum when dead tuples exceed threshold + scale factor × reltuples, or
 * inserts since the last vacuum exceed the insert threshold likewise; analyze
 * when rows modified since the last analyze exceed the analyze threshold.
 * A table's reloptions override the server's settings; `autovacuum_enabled`
 * false leaves it alone.
 */
/** The cost delay (ms) and limit autovacuum uses on table `t`: its reloptions, else the server's settings. */
export function throttleFor(t: TableCounters, s: AutovacuumSettings): { delayMS: number; limit: number } {
  const opts = new Map((t.reloptions ?? []).map((o) => o.split("=", 2) as [string, string]))
  const delay = opts.has("autovacuum_vacuum_cost_delay") ? Number(opts.get("autovacuum_vacuum_cost_delay")) : s.costDelayMS
  const limit = opts.has("autovacuum_vacuum_cost_limit") ? Number(opts.get("autovacuum_vacuum_cost_limit")) : s.costLimit
  return { delayMS: Number.isFinite(delay) && delay >= 0 ? delay : s.costDelayMS, limit: Number.isFinite(limit) && limit > 0 ? Math.round(limit) : Math.round(s.costLimit) }
}

export function decide(t: TableCounters, s: AutovacuumSettings): Decision {
  const opts = new Map((t.reloptions ?? []).map((o) => o.split("=", 2) as [string, string]))
  const opt = (name: string, fallback: number) => (opts.has(name) ? Number(opts.get(name)) : fallback)
  const reltuples = Math.max(0, t.reltuples)
  const vacuumThreshold = opt("autovacuum_vacuum_threshold", s.vacuumThreshold) + opt("autovacuum_vacuum_scale_factor", s.vacuumScaleFactor) * reltuples
  const insertBase = opt("autovacuum_vacuum_insert_threshold", s.insertThreshold)
  const insertThreshold = insertBase + opt("autovacuum_vacuum_insert_scale_factor", s.insertScaleFactor) * reltuples
  const analyzeThreshold = opt("autovacuum_analyze_threshold", s.analyzeThreshold) + opt("autovacuum_analyze_scale_factor", s.analyzeScaleFactor) * reltuples
  const enabled = opts.get("autovacuum_enabled") !== "false" && opts.get("autovacuum_enabled") !== "off"
  const byDead = t.deadTuples > vacuumThreshold
  const byInserts = insertBase >= 0 && t.insertedSinceVacuum > insertThreshold
  return {
    vacuum: enabled && (byDead || byInserts),
    analyze: enabled && t.modifiedSinceAnalyze > analyzeThreshold,
    reason: byDead ? `dead ${t.deadTuples} > ${Math.round(vacuumThreshold)}` : byInserts ? `inserted ${t.insertedSinceVacuum} > ${Math.round(insertThreshold)}` : "",
    vacuumThreshold,
    insertThreshold,
    analyzeThreshold,
  }
}

/** Reads the counters of every ordinary table in `schema`. */
export async function readCounters(client: pg.Client, schema: string): Promise<TableCounters[]> {
  const { rows } = await client.query<{ relname: string; reltuples: number; dead: string; ins: string; mod: string; reloptions: string[] | null }>(
    `SELECT s.relname, c.reltuples::float8 AS reltuples, s.n_dead_tup AS dead, s.n_ins_since_vacuum AS ins, s.n_mod_since_analyze AS mod, c.reloptions
       FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
      WHERE s.schemaname = $1 ORDER BY s.relname`,
    [schema],
  )
  return rows.map((r) => ({
    table: r.relname,
    reltuples: Number(r.reltuples),
    deadTuples: Number(r.dead),
    insertedSinceVacuum: Number(r.ins),
    modifiedSinceAnalyze: Number(r.mod),
    reloptions: r.reloptions,
  }))
}

/** One VACUUM or ANALYZE the schedule ran. */
export interface MaintenanceRun {
  /** Epoch ms when it started. */
  at: number
  table: string
  command: "VACUUM (ANALYZE)" | "ANALYZE"
  reason: string
  reltuples: number
  deadTuples: number
  durationMS: number
  /** Set when it was cancelled at the end of the run. */
  cancelled?: boolean
}

/**
 * Runs autovacuum's schedule on one schema until stopped: checks every
 * `naptimeMS` (the first check at once), then works through the tables that
 * need it one at a time, as one autovacuum worker would.
 */
export class AutovacuumSchedule {
  /** Every VACUUM and ANALYZE run so far. */
  readonly runs: MaintenanceRun[] = []
  private client: pg.Client | undefined
  private pid = 0
  private stopped = false
  private stopping: Promise<void> | undefined
  private loop: Promise<void> | undefined
  private wake: (() => void) | undefined
  /** Why the loop ended early, if it failed. */
  error: unknown

  /**
   * @param connectionString - the server
   * @param schema - whose tables to look after
   * @param settings - the server's autovacuum settings
   * @param naptimeMS - how long to wait between checks
   * @param log - told of each run as it ends
   */
  constructor(
    private readonly connectionString: string,
    private readonly schema: string,
    private readonly settings: AutovacuumSettings,
    private readonly naptimeMS: number,
    private readonly log: (run: MaintenanceRun) => void,
  ) {}

  /** Connects, applies autovacuum's throttle to the session, and starts the loop. */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.connectionString, application_name: "flatness-autovacuum" })
    client.on("error", () => {})
    await client.connect()
    this.client = client
    this.pid = Number((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid)
    await client.query(`SET vacuum_cost_delay = ${Number(this.settings.costDelayMS)}`)
    await client.query(`SET vacuum_cost_limit = ${Math.round(this.settings.costLimit)}`)
    this.loop = this.run(client).catch((error: unknown) => {
      this.error = error
    })
  }

  private async run(client: pg.Client): Promise<void> {
    while (!this.stopped) {
      for (const counters of await readCounters(client, this.schema)) {
        if (this.stopped) break
        const d = decide(counters, this.settings)
        if (!d.vacuum && !d.analyze) continue
        const command = d.vacuum ? "VACUUM (ANALYZE)" : "ANALYZE"
        const reason = d.vacuum ? d.reason : `modified ${counters.modifiedSinceAnalyze} > ${Math.round(d.analyzeThreshold)}`
        const at = Date.now()
        const run: MaintenanceRun = { at, table: counters.table, command, reason, reltuples: counters.reltuples, deadTuples: counters.deadTuples, durationMS: 0 }
        try {
          // Autovacuum throttles each table by its own reloptions when it has them.
          const throttle = throttleFor(counters, this.settings)
          await client.query(`SET vacuum_cost_delay = ${throttle.delayMS}`)
          await client.query(`SET vacuum_cost_limit = ${throttle.limit}`)
          await client.query(`${command} ${this.schema}.${counters.table}`)
        } catch (error) {
          if (!this.stopped) throw error
          run.cancelled = true
        }
        run.durationMS = Date.now() - at
        this.runs.push(run)
        this.log(run)
      }
      if (this.stopped) break
      await new Promise<void>((resolve) => {
        this.wake = resolve
        setTimeout(resolve, this.naptimeMS)
      })
    }
  }

  /** Stops the loop, cancelling a VACUUM or ANALYZE under way (from `other`, a connection of the caller's), and disconnects. */
  stop(other: pg.Client): Promise<void> {
    this.stopping ??= this.halt(other)
    return this.stopping
  }

  private async halt(other: pg.Client): Promise<void> {
    this.stopped = true
    this.wake?.()
    if (this.pid) await other.query("SELECT pg_cancel_backend($1)", [this.pid])
    await this.loop?.catch(() => {})
    await this.client?.end()
  }
}
