/**
 * The embeddable handler mounted under a base path in an existing server:
 * Express (`app.use(base, handler)`, which strips the prefix), Fastify (an
 * `onRequest` hook handing the raw request over before Fastify reads the
 * body), and a plain `node:http` server. In each: the pages and their links
 * stay under the base, a retry goes through the confirm step's POST (the
 * body read by the dashboard itself), and the host app's own routes still
 * answer. These are the snippets the README shows.
 */
import assert from "node:assert/strict"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { describe, it } from "node:test"
import express from "express"
import Fastify from "fastify"
import { createDashboard, type DashboardHandler } from "../src/dashboard/index.js"
import type { StorageProvider } from "../src/storage/provider.js"
import { STORES, csrfOf, seed, send, workflowURL } from "./helpers/dashboard.js"

const BASE = "/admin/workflows-ui"
/** Whether a request's URL is the dashboard's (the README's `underBase`). */
const underBase = (url = "") => url === BASE || url.startsWith(`${BASE}/`) || url.startsWith(`${BASE}?`)

/** A host app with its own route, `GET /health`, and the dashboard mounted at BASE; returns its port and how to close it. */
type Mount = (dashboard: DashboardHandler) => Promise<{ port: number; close(): Promise<void> }>

async function listening(server: Server): Promise<{ port: number; close(): Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

const MOUNTS: Record<string, Mount> = {
  async express(dashboard) {
    const app = express()
    app.get("/health", (_req, res) => void res.send("ok"))
    // Express strips the prefix from req.url; the dashboard, told its basePath, builds its links under it.
    app.use(BASE, (req, res) => void dashboard(req, res))
    return listening(createServer(app))
  },
  async fastify(dashboard) {
    const app = Fastify()
    app.get("/health", async () => "ok")
    // Before Fastify parses a body: the dashboard reads its own form posts from the raw request.
    app.addHook("onRequest", (request, reply, done) => {
      if (!underBase(request.url)) return done()
      reply.hijack()
      void dashboard(request.raw, reply.raw)
    })
    await app.listen({ port: 0, host: "127.0.0.1" })
    const port = (app.server.address() as AddressInfo).port
    return { port, close: () => app.close() }
  },
  async "node:http"(dashboard) {
    const app = (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === "/health") return void res.end("ok")
      res.statusCode = 404
      res.end()
    }
    return listening(createServer((req, res) => (underBase(req.url) ? void dashboard(req, res) : app(req, res))))
  },
}

describe("the dashboard mounted under a base path", { timeout: 60_000 }, () => {
  const store = STORES[0]!
  for (const [name, mount] of Object.entries(MOUNTS)) {
    it(`${name}: pages and links under the base, a retry through the confirm step, the app's own routes untouched`, async (t) => {
      const opened = await store.open()
      t.after(() => opened.cleanup())
      const storage: StorageProvider = opened.storage
      await seed(storage)
      const dashboard = createDashboard({ storageProvider: storage, basePath: BASE, logger: { info: () => {}, warn: () => {}, error: () => {} } })
      const app = await mount(dashboard)
      t.after(async () => {
        await app.close()
        await dashboard.close()
      })

      // The base itself with a query (a first visit with ?token=… looks so) reaches the dashboard too.
      assert.equal((await send(app.port, `${BASE}?status=failed`)).status, 200)
      const overview = await send(app.port, `${BASE}/`)
      assert.equal(overview.status, 200, overview.body.slice(0, 300))
      assert.match(overview.body, new RegExp(`href="${BASE}/workflows"`))
      const links = [...overview.body.matchAll(/(?:href|src|action)="(\/[^"]*)"/g)].map((m) => m[1] as string)
      assert.ok(links.length > 3)
      for (const link of links) assert.ok(link.startsWith(`${BASE}/`), `a link leaves the base path: ${link}`)
      const asset = /src="([^"]+\.js)"/.exec(overview.body)?.[1]
      assert.ok(asset, "the page loads its script")
      assert.equal((await send(app.port, asset)).status, 200, "the script is served under the base")

      const page = await send(app.port, `${BASE}${workflowURL("order-2")}`)
      assert.equal(page.status, 200)
      assert.match(page.body, /<table id="attempts">/)
      const confirm = await send(app.port, `${BASE}${workflowURL("order-2", "/retry")}`)
      const retried = await send(app.port, `${BASE}${workflowURL("order-2", "/retry")}`, {
        method: "POST",
        origin: `http://127.0.0.1:${app.port}`,
        form: { csrf: csrfOf(confirm) },
      })
      assert.equal(retried.status, 303, retried.body)
      assert.equal(retried.headers.location, `${BASE}${workflowURL("order-2")}?done=retry`)
      assert.equal((await storage.getWorkflow("order-2"))?.workflow.status, "pending", "the retry did not reach the store")

      const health = await send(app.port, "/health")
      assert.equal(health.status, 200)
      assert.equal(health.body, "ok")
    })
  }
})
