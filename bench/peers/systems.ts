/**
 * The systems the peers bench compares, by name.
 *
 * @module
 */
import type { PeerSystem } from "./system.js"

/** Names accepted by `--systems`, in the order the bench runs them. */
export const SYSTEM_NAMES = ["durabletasks", "graphile-worker", "pg-boss", "dbos"] as const

/** Loads one system's adapter (peer modules load only when used). */
export async function loadSystem(name: string): Promise<PeerSystem> {
  switch (name) {
    case "durabletasks":
      return (await import("./durabletasks.js")).durabletasks
    case "graphile-worker":
      return (await import("./graphile-worker.js")).graphileWorker
    case "pg-boss":
      return (await import("./pg-boss.js")).pgBoss
    case "dbos":
      return (await import("./dbos.js")).dbos
    default:
      throw new Error(`unknown system "${name}": use ${SYSTEM_NAMES.join(", ")}`)
  }
}
