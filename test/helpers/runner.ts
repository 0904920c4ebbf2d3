/** Shared set-up for runner tests: a runner on a fresh store, and waiting for events. */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { WorkflowRunner, type AnyTaskRunner, type Logger, type WorkflowRunnerOptions } from "../../src/index.js"
import { MemoryStorageProvider } from "../../src/storage/memory.js"
import type { StorageProvider } from "../../src/storage/provider.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"

/** The stores every runner behaviour is tested on. */
export const STORES: ReadonlyArray<{ name: string; open(): { storage: StorageProvider; cleanup(): void } }> = [
  {
    name: "sqlite",
    open() {
      const dir = mkdtempSync(join(tmpdir(), "dt-test-"))
      return { storage: new SQLiteStorageProvider(join(dir, "store.sqlite")), cleanup: () => rmSync(dir, { recursive: true, force: true }) }
    },
  },
  { name: "memory", open: () => ({ storage: new MemoryStorageProvider(), cleanup: () => {} }) },
]

/** A logger that keeps every line, for asserting on levels. */
export class MemoryLogger implements Logger {
  readonly lines: Array<{ level: string; message: string }> = []
  debug(message: string) { this.lines.push({ level: "debug", message }) }
  info(message: string) { this.lines.push({ level: "info", message }) }
  warn(message: string) { this.lines.push({ level: "warn", message }) }
  error(message: string) { this.lines.push({ level: "error", message }) }
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.message)
  }
}

/** Starts a runner on `storage` with test-friendly defaults; stop it with `runner.stop()`. */
export async function startRunner<const Runners extends readonly AnyTaskRunner[]>(
  storage: StorageProvider,
  taskRunners: Runners,
  options: Partial<WorkflowRunnerOptions<Runners>> = {},
): Promise<WorkflowRunner<Runners>> {
  const runner = new WorkflowRunner<Runners>({ taskRunners, storageProvider: storage, retryDelayMS: 10, pollIntervalMS: 50, ...options })
  await runner.recover()
  return runner
}

/** Resolves when `check` returns a value other than undefined, polling every 10 ms; fails after `timeoutMS`. */
export async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, timeoutMS = 5_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMS
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMS} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
