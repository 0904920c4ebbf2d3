/**
 * Sizes and tuple counters of one schema's tables and indexes, read from the
 * catalog and the statistics views, for benches that watch a store grow.
 *
 * @module
 */
import type pg from "pg"

/** One index's name and size. */
export interface IndexSize {
  name: string
  bytes: number
}

/** One table's sizes and counters at one moment. */
export interface TableSize {
  table: string
  /** `pg_relation_size`: the heap alone. */
  tableBytes: number
  /** `pg_indexes_size`: all its indexes. */
  indexesBytes: number
  /** `pg_total_relation_size`: heap, indexes and TOAST. */
  totalBytes: number
  indexes: IndexSize[]
  liveTuples: number
  deadTuples: number
  /** Rows inserted, updated (of which HOT) and deleted since the table was created. */
  inserted: number
  updated: number
  hotUpdated: number
  deleted: number
}

/** Reads {@link TableSize} of every ordinary table in `schema`, by table name. */
export async function readTableSizes(client: pg.Client, schema: string): Promise<Map<string, TableSize>> {
  const tables = await client.query<{
    relname: string
    table_bytes: string
    indexes_bytes: string
    total_bytes: string
    live: string
    dead: string
    ins: string
    upd: string
    hot: string
    del: string
  }>(
    `SELECT relname, pg_relation_size(relid) AS table_bytes, pg_indexes_size(relid) AS indexes_bytes,
            pg_total_relation_size(relid) AS total_bytes, n_live_tup AS live, n_dead_tup AS dead,
            n_tup_ins AS ins, n_tup_upd AS upd, n_tup_hot_upd AS hot, n_tup_del AS del
       FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname`,
    [schema],
  )
  const indexes = await client.query<{ relname: string; indexrelname: string; bytes: string }>(
    `SELECT relname, indexrelname, pg_relation_size(indexrelid) AS bytes
       FROM pg_stat_user_indexes WHERE schemaname = $1 ORDER BY relname, indexrelname`,
    [schema],
  )
  const sizes = new Map<string, TableSize>()
  for (const r of tables.rows) {
    sizes.set(r.relname, {
      table: r.relname,
      tableBytes: Number(r.table_bytes),
      indexesBytes: Number(r.indexes_bytes),
      totalBytes: Number(r.total_bytes),
      indexes: [],
      liveTuples: Number(r.live),
      deadTuples: Number(r.dead),
      inserted: Number(r.ins),
      updated: Number(r.upd),
      hotUpdated: Number(r.hot),
      deleted: Number(r.del),
    })
  }
  for (const r of indexes.rows) sizes.get(r.relname)?.indexes.push({ name: r.indexrelname, bytes: Number(r.bytes) })
  return sizes
}

/** Megabytes, with one decimal. */
export function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1)
}
