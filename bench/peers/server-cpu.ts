/**
 * The CPU time the Postgres server spent for one database during a run: the
 * backends connected to it, sampled from `/proc` while the run goes on (a
 * pool may open connections at any time), summed at the end. Linux only
 * (the server must run on this machine); elsewhere it reports nothing.
 *
 * @module
 */
import fs from "node:fs"
import pg from "pg"

/** Clock ticks per second of `/proc/<pid>/stat` times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100

/** CPU time (user + system) of process `pid` in ms, or undefined if it is gone (or off Linux). */
export function processCPUMS(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    // Fields after the command (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND
  } catch {
    return undefined
  }
}

/** A running sample of the server CPU of one database. */
export interface ServerCPU {
  /** Stops sampling; the server CPU in ms spent by the database's backends since `start`, or undefined off Linux. */
  stop(): Promise<number | undefined>
}

/**
 * Starts sampling the backends of `database` every `everyMS`. Backends seen
 * at the start count from their CPU then; later ones from zero (they were
 * started during the run). This sampler's own backend is left out.
 */
export async function sampleServerCPU(connectionString: string, database: string, everyMS = 100): Promise<ServerCPU> {
  const client = new pg.Client({ connectionString })
  client.on("error", () => {})
  await client.connect()
  const own = Number((await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]?.pid)
  const supported = processCPUMS(own) !== undefined
  const baseline = new Map<number, number>()
  const latest = new Map<number, number>()
  const sample = async (first: boolean) => {
    const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> $2", [database, own])
    for (const { pid } of rows) {
      const ms = processCPUMS(pid)
      if (ms === undefined) continue
      if (!baseline.has(pid)) baseline.set(pid, first ? ms : 0)
      latest.set(pid, ms)
    }
  }
  if (supported) await sample(true)
  let pending = Promise.resolve()
  const timer = supported ? setInterval(() => (pending = pending.then(() => sample(false)).catch(() => {})), everyMS) : undefined
  return {
    async stop() {
      if (timer) clearInterval(timer)
      await pending
      if (supported) await sample(false).catch(() => {})
      await client.end().catch(() => {})
      if (!supported) return undefined
      let total = 0
      for (const [pid, ms] of latest) total += ms - (baseline.get(pid) ?? 0)
      return total
    },
  }
}
