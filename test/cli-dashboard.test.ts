/**
 * `durabletasks dashboard` as a real child process: it listens on 127.0.0.1
 * by default with no token, needs a token it prints (or basic auth) on any
 * other address, enforces `--read-only`, logs actions with who and what, and
 * stops on SIGTERM.
 */
import assert from "node:assert/strict"
import { spawn, type ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, it } from "node:test"
import { fileURLToPath } from "node:url"
import { SQLiteStorageProvider } from "../src/storage/sqlite.js"
import { seed, send } from "./helpers/dashboard.js"

const CLI = fileURLToPath(new URL("../../dist/cli.js", import.meta.url))
const START_LIMIT_MS = 15_000

interface Started {
  child: ChildProcess
  url: URL
  stderr: () => string
}

/** Starts the dashboard command and waits (bounded) for the URL it prints. */
async function start(t: { after(fn: () => Promise<void>): void }, args: string[], env: Record<string, string> = {}): Promise<Started> {
  const child = spawn(process.execPath, [CLI, "dashboard", "--port", "0", ...args], {
    env: { ...process.env, DURABLETASKS_SQLITE: "", DURABLETASKS_POSTGRES: "", DURABLETASKS_DASHBOARD_AUTH: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  })
  let stdout = ""
  let stderr = ""
  child.stderr?.on("data", (c: Buffer) => (stderr += c.toString("utf8")))
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGKILL")
      await exited
    }
  })
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed within ${START_LIMIT_MS} ms; stdout ${stdout}, stderr ${stderr}`)), START_LIMIT_MS)
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString("utf8")
      const match = /http:\/\/\S+/.exec(stdout)
      if (match) {
        clearTimeout(timer)
        resolve(new URL(match[0]))
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`dashboard exited with ${String(code)}: ${stderr}`))
    })
  })
  return { child, url, stderr: () => stderr }
}

async function store(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "dt-cli-dashboard-"))
  t.after(async () => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, "store.sqlite")
  const storage = new SQLiteStorageProvider(file)
  await seed(storage)
  await storage.close()
  return file
}

describe("durabletasks dashboard (CLI)", { timeout: 120_000 }, () => {
  it("listens on 127.0.0.1 by default, open to loopback, logs each action, and stops on SIGTERM", async (t) => {
    const file = await store(t)
    const { child, url, stderr } = await start(t, ["--sqlite", file])
    assert.equal(url.hostname, "127.0.0.1")
    assert.equal(url.search, "", "no token on loopback")
    const port = Number(url.port)
    const confirm = await send(port, "/workflows/order-2/retry")
    assert.equal(confirm.status, 200)
    const csrf = /name="csrf" value="([^"]+)"/.exec(confirm.body)?.[1] ?? ""
    const posted = await send(port, "/workflows/order-2/retry", { method: "POST", origin: `http://127.0.0.1:${port}`, form: { csrf } })
    assert.equal(posted.status, 303)
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
    child.kill("SIGTERM")
    assert.equal(await exited, 0)
    const entry = stderr().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>).find((e) => e.action === "retry")
    assert.ok(entry, `no action logged: ${stderr()}`)
    assert.equal(entry.who, "127.0.0.1")
    assert.equal(entry.workflowID, "order-2")
    assert.equal(typeof entry.time, "string")
  })

  it("on a non-loopback address, prints a token in the URL and refuses requests without it", async (t) => {
    const file = await store(t)
    const { url } = await start(t, ["--sqlite", file, "--host", "0.0.0.0"])
    const token = url.searchParams.get("token")
    assert.ok(token && token.length >= 24, `a token in ${url.href}`)
    const port = Number(url.port)
    assert.equal((await send(port, "/")).status, 401)
    const traded = await send(port, `/?token=${encodeURIComponent(token)}`)
    assert.equal(traded.status, 303)
    assert.match(String(traded.headers["set-cookie"]), /HttpOnly; SameSite=Strict/)
  })

  it("with basic auth from DURABLETASKS_DASHBOARD_AUTH, no token; --read-only refuses a POST with 405", async (t) => {
    const file = await store(t)
    const { url } = await start(t, ["--sqlite", file, "--host", "0.0.0.0", "--read-only"], { DURABLETASKS_DASHBOARD_AUTH: "ops:secret" })
    assert.equal(url.search, "")
    const port = Number(url.port)
    const authorization = `Basic ${Buffer.from("ops:secret").toString("base64")}`
    assert.equal((await send(port, "/")).status, 401)
    assert.equal((await send(port, "/", { authorization })).status, 200)
    const posted = await send(port, "/workflows/order-2/retry", { method: "POST", authorization, origin: `http://127.0.0.1:${port}`, form: { csrf: "x" } })
    assert.equal(posted.status, 405)
  })
})
