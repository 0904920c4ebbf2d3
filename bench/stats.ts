/** Small measuring helpers shared by the benchmark workloads. */
import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

/** Median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** The `p`-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** Milliseconds since an arbitrary origin, sub-millisecond. */
export function nowMS(): number {
  return performance.now()
}

/** A fresh temporary directory; removed by the returned function. */
export function tempDir(): { dir: string; remove(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "dt-bench-"))
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

/** Runs a compiled bench script (path relative to this file) in a child process and parses its last stdout line as JSON. */
export async function runChild<T>(relativeScript: string, args: string[], nodeArgs: string[] = []): Promise<T> {
  const script = fileURLToPath(new URL(relativeScript, import.meta.url))
  const child = spawn(process.execPath, [...nodeArgs, script, ...args], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d))
  child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d))
  // "close", not "exit": by then stdout has been read to the end.
  const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)))
  if (code !== 0) throw new Error(`${relativeScript} exited with code ${code}: ${err}`)
  const last = out.trim().split("\n").pop() ?? ""
  return JSON.parse(last) as T
}

/** Formats a number with thousands separators and `digits` decimals. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return String(value)
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** Prints rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ")
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n")
}

/** Waits until `count` calls of the returned `tick` have happened. */
export function countdown(count: number): { tick(): void; done: Promise<void> } {
  let left = count
  let resolve!: () => void
  const done = new Promise<void>((r) => (resolve = r))
  if (left <= 0) resolve()
  return {
    tick: () => {
      if (--left === 0) resolve()
    },
    done,
  }
}

/** One reported figure: the median of its runs, how it compares with the floors (SQLite), and its target. */
export interface Figure {
  key: string
  label: string
  unit: string
  median: number
  samples: number[]
  /** Whether a larger value is better (throughput) or a smaller one (latency, memory). */
  higherIsBetter: boolean
  vsPerWriteFloor?: number
  vsBatchedFloor?: number
  target?: { text: string; met: boolean }
  details?: Record<string, unknown>
}
