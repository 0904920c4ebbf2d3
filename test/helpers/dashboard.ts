/**
 * Shared set-up for dashboard tests: the stores to run on (SQLite and
 * Postgres), a seeded set of workflows, the dashboard served by a real
 * `node:http` server on loopback, and raw requests that set any Host,
 * Origin or Cookie header (fetch would not let a test forge Host).
 */
import assert from "node:assert/strict"
import { request as httpRequest, createServer, type Server } from "node:http"
import { mkdtempSync, rmSync } from "node:fs"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { createDashboard, type DashboardHandler, type DashboardOptions } from "../../src/dashboard/index.js"
import type { StorageProvider } from "../../src/storage/provider.js"
import { PostgresStorageProvider } from "../../src/storage/postgres.js"
import { SQLiteStorageProvider } from "../../src/storage/sqlite.js"
import { connectionString, dropSchema, postgresSkipReason, uniqueSchemaName } from "./postgres.js"
import { endedWrite, SEED_LEASE, seedTask } from "./seed.js"

const MINUTE = 60_000
/** How long one request may take before the test fails. */
export const REQUEST_LIMIT_MS = 10_000

/** A store for one test: its provider, and how to remove it. */
export interface TestStore {
  storage: StorageProvider
  cleanup(): Promise<void>
}

const postgresReason = await postgresSkipReason()

/** The stores every dashboard test runs on. */
export const STORES: Array<{ name: string; skip?: string; open(): Promise<TestStore> }> = [
  {
    name: "sqlite",
    async open() {
      const dir = mkdtempSync(join(tmpdir(), "dt-dashboard-"))
      const storage = new SQLiteStorageProvider(join(dir, "store.sqlite"))
      return {
        storage,
        async cleanup() {
          await storage.close()
          rmSync(dir, { recursive: true, force: true })
        },
      }
    },
  },
  {
    name: "postgres",
    ...(postgresReason === undefined ? {} : { skip: postgresReason }),
    async open() {
      const schema = uniqueSchemaName()
      const storage = new PostgresStorageProvider(connectionString, { schema, notifications: false })
      return {
        storage,
        async cleanup() {
          await storage.close()
          await dropSchema(schema)
        },
      }
    },
  },
]

/** The payload whose markup must be shown as text. */
export const SCRIPT_PAYLOAD = "<script>alert('xss')</script>"
/** A workflow ID holding markup. */
export const SCRIPT_ID = "evil-<script>alert(1)</script>"

/**
 * Seeds: order-1 (pending), order-2 (failed: "card declined"), order-3
 * (completed), mail-1 (pending, data holding `<script>` and a long text),
 * and a pending workflow whose ID holds markup.
 */
export async function seed(storage: StorageProvider, now = Date.now()): Promise<void> {
  await storage.init()
  await storage.insertWorkflowsAndTasks([
    { id: "order-1", now: now - 30 * MINUTE, tasks: [seedTask("Charge", { amount: 5 })] },
    { id: "order-2", now: now - 20 * MINUTE, tasks: [seedTask("Charge", { amount: 7 }), seedTask("Ship")], lease: SEED_LEASE },
    { id: "order-3", now: now - 10 * MINUTE, tasks: [seedTask("Ship")], lease: SEED_LEASE },
    { id: "mail-1", now: now - 5 * MINUTE, tasks: [seedTask("Mail", { html: SCRIPT_PAYLOAD, body: "x".repeat(2_000) })] },
    { id: SCRIPT_ID, now: now - 4 * MINUTE, tasks: [seedTask("Mail")] },
  ])
  assert.deepEqual(
    await storage.applyWorkflowWrites([endedWrite("order-2", now - 2 * MINUTE, "failed", "card declined <b>twice</b>"), endedWrite("order-3", now - 3 * MINUTE, "completed", null)]),
    [true, true],
  )
}

/** A dashboard served on 127.0.0.1 on a free port. */
export interface ServedDashboard {
  port: number
  handler: DashboardHandler
  /** Log lines the dashboard wrote (message and fields). */
  logged: Array<{ level: string; message: string; fields: Record<string, unknown> | undefined }>
  close(): Promise<void>
}

/** Serves `createDashboard(options)` (plus a collecting logger) on loopback. */
export async function serveDashboard(options: DashboardOptions): Promise<ServedDashboard> {
  const logged: ServedDashboard["logged"] = []
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => void logged.push({ level, message, fields })
  const handler = createDashboard({ logger: { info: log("info"), warn: log("warn"), error: log("error") }, ...options })
  const server: Server = createServer((req, res) => void handler(req, res))
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    port,
    handler,
    logged,
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await handler.close()
    },
  }
}

/**
 * A seeded store of `store`'s kind and a dashboard on it, both removed after
 * test `t`.
 */
export async function servedOn(
  store: { open(): Promise<TestStore> },
  t: { after(fn: () => Promise<void>): void },
  options: Omit<DashboardOptions, "storageProvider" | "client"> = {},
): Promise<ServedDashboard & TestStore> {
  const opened = await store.open()
  t.after(() => opened.cleanup())
  await seed(opened.storage)
  const dashboard = await serveDashboard({ storageProvider: opened.storage, ...options })
  t.after(() => dashboard.close())
  return { ...opened, ...dashboard }
}

/** A response, read whole. */
export interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** A raw request with any headers; `host` defaults to `127.0.0.1:<port>`. */
export function send(
  port: number,
  path: string,
  options: { method?: string; host?: string; origin?: string; cookie?: string; authorization?: string; form?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const body = options.form ? new URLSearchParams(options.form).toString() : undefined
  const headers: Record<string, string> = { ...options.headers, host: options.host ?? `127.0.0.1:${port}` }
  if (options.origin !== undefined) headers.origin = options.origin
  if (options.cookie !== undefined) headers.cookie = options.cookie
  if (options.authorization !== undefined) headers.authorization = options.authorization
  if (body !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded"
    headers["content-length"] = String(Buffer.byteLength(body))
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: "127.0.0.1", port, path, method: options.method ?? "GET", headers, timeout: REQUEST_LIMIT_MS }, (res) => {
      const chunks: Buffer[] = []
      res.on("data", (c: Buffer) => chunks.push(c))
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }))
      res.on("error", reject)
    })
    req.on("timeout", () => req.destroy(new Error(`${options.method ?? "GET"} ${path} got no answer within ${REQUEST_LIMIT_MS} ms`)))
    req.on("error", reject)
    req.end(body)
  })
}

/** The CSRF token of a page's confirm form. */
export function csrfOf(page: Reply): string {
  const match = /name="csrf" value="([^"]+)"/.exec(page.body)
  assert.ok(match, `no CSRF token on the page (status ${page.status}): ${page.body.slice(0, 300)}`)
  return match[1] as string
}

/** The path of a workflow's page. */
export function workflowURL(id: string, rest = ""): string {
  return `/workflows/${encodeURIComponent(id)}${rest}`
}
