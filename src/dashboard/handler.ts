/**
 * `createDashboard`: the web dashboard as one `(req, res)` handler, for a
 * plain `node:http` server, Express or Fastify. It checks every request in
 * one order (Host, then who is asking, then for a POST read-only mode, same
 * origin and CSRF token) before any page or action runs.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http"
import { WorkflowClient } from "../client.js"
import { errorMessage, type Logger } from "../logger.js"
import type { StorageProvider } from "../storage/provider.js"
import { ValidationError } from "../errors.js"
import { validateLogger } from "../validate.js"
import { DASHBOARD_ICON, DASHBOARD_SCRIPT, DASHBOARD_STYLES } from "./assets.js"
import { html } from "./html.js"
import { href, layout, workflowPath, type Page, type PageContext } from "./page.js"
import { listPage } from "./pages/list.js"
import { overviewPage } from "./pages/overview.js"
import { actionApplies, confirmPage, payloadText, workflowPage, type WorkflowAction } from "./pages/workflow.js"
import {
  LOOPBACK_HOSTS,
  basicAuthUser,
  newSecret,
  presentedToken,
  sameOrigin,
  secretsEqual,
  setSecurityHeaders,
  hostAllowed,
  tokenCookie,
} from "./security.js"

/**
 * What `authorize` decides: `false` refuses the request (403); `true` lets it
 * in; a string lets it in and names who is asking, for the action log.
 */
export type AuthorizeResult = boolean | string

/** Options of {@link createDashboard}: a `client` or a `storageProvider`, and how to guard it. */
export interface DashboardOptions {
  /** The client to read and act through. Give this or `storageProvider`. */
  client?: WorkflowClient
  /** A provider to read and act on (a client is made on it; the provider is not closed by `close()`). */
  storageProvider?: StorageProvider
  /** The path prefix the handler is mounted at, such as `"/dashboard"`; links are built under it. Default `""` (the root). */
  basePath?: string
  /** Refuse every state change (cancel, retry) with 405, and show no buttons for them. Default `false`. */
  readOnly?: boolean
  /**
   * Decides who may use the dashboard, before anything else runs (after the
   * Host check). Never expose the dashboard beyond loopback without it (or
   * `token` / `basicAuth`): it can cancel and retry workflows.
   */
  authorize?: (req: IncomingMessage) => AuthorizeResult | Promise<AuthorizeResult>
  /**
   * An access token (with `basicAuth` too, either one lets in; `authorize`,
   * if given, must pass as well): a first visit with `?token=…` sets an HttpOnly,
   * SameSite=Strict cookie; an `Authorization: Bearer` header works too.
   */
  token?: string
  /** Basic-auth credentials, compared in constant time. */
  basicAuth?: { username: string; password: string }
  /**
   * Host names (the Host header without its port) the dashboard answers to;
   * any other is refused with 421, which stops DNS rebinding. Default
   * `localhost`, `127.0.0.1`, `[::1]`. Add the names people reach it by.
   */
  allowedHosts?: readonly string[]
  /** Where every action (cancel, retry) and refusal of one is logged, with who and what. Default `console`. */
  logger?: Logger
}

/** The handler `createDashboard` returns: call it with each request. */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse): Promise<void>
  /** Closes the client the dashboard made on `storageProvider` (not the provider itself); a given `client` is left open. */
  close(): Promise<void>
}

/** Who is asking, as the action log names them. */
type Who = string

/**
 * Makes the dashboard's request handler.
 *
 * ```ts
 * const dashboard = createDashboard({ storageProvider, basePath: "/dashboard", authorize: (req) => isAdmin(req) })
 * http.createServer((req, res) => req.url?.startsWith("/dashboard") ? dashboard(req, res) : app(req, res))
 * ```
 *
 * @throws ValidationError for missing or contradictory options
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  if (typeof options !== "object" || options === null) throw new ValidationError("createDashboard needs an options object")
  if ((options.client === undefined) === (options.storageProvider === undefined)) {
    throw new ValidationError("createDashboard needs exactly one of client or storageProvider")
  }
  const logger = validateLogger(options.logger) ?? console
  const ownClient = options.client === undefined
  const client = options.client ?? new WorkflowClient({ storageProvider: options.storageProvider as StorageProvider })
  const base = normalizeBase(options.basePath ?? "")
  const readOnly = options.readOnly === true
  const allowedHosts = options.allowedHosts ?? LOOPBACK_HOSTS
  // One CSRF token per handler: a page of another origin cannot read it, so it cannot forge a form.
  const csrfToken = newSecret()
  const guard = { authorize: options.authorize, token: options.token, basicAuth: options.basicAuth }

  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    setSecurityHeaders(res)
    try {
      if (!hostAllowed(req, allowedHosts)) {
        // 421 Misdirected Request: this server does not answer for that name.
        return send(res, 421, "text/plain", `host ${JSON.stringify(req.headers.host ?? "")} is not allowed; add it to allowedHosts (--allowed-host)`)
      }
      const url = new URL(req.url ?? "/", "http://dashboard.invalid")
      const path = stripBase(url.pathname, base)
      if (path === undefined) return send(res, 404, "text/plain", "not found")
      const who = await identify(req, res, guard, url, `${base}${path}`, base)
      if (who === undefined) return
      const context: PageContext = { client, base, query: url.searchParams, csrfToken, readOnly, now: Date.now() }
      if (req.method === "POST") return await handlePost(req, res, context, path, who, logger)
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.setHeader("Allow", readOnly ? "GET, HEAD" : "GET, HEAD, POST")
        return send(res, 405, "text/plain", "method not allowed")
      }
      return await handleGet(res, context, path)
    } catch (error) {
      if (!res.headersSent) {
        const bad = error instanceof ValidationError
        send(res, bad ? 400 : 500, "text/plain", bad ? error.message : `the dashboard failed: ${errorMessage(error)}`)
      } else res.destroy()
      if (!(error instanceof ValidationError)) logger.error?.("dashboard: request failed", { url: req.url, error: errorMessage(error) })
    }
  }
  return Object.assign(handler, {
    close: async () => {
      if (ownClient) await client.close({ closeStorage: false })
    },
  })
}

async function handleGet(res: ServerResponse, context: PageContext, path: string): Promise<void> {
  if (path === "/assets/dashboard.js") return send(res, 200, "text/javascript", DASHBOARD_SCRIPT)
  if (path === "/assets/dashboard.css") return send(res, 200, "text/css", DASHBOARD_STYLES)
  if (path === "/assets/icon.svg") return send(res, 200, "image/svg+xml", DASHBOARD_ICON)
  if (path === "/") return sendPage(res, context, await overviewPage(context))
  if (path === "/workflows") return sendPage(res, context, await listPage(context))
  if (path === "/go") {
    const id = context.query.get("id")?.trim()
    return redirect(res, id ? href(context, workflowPath(id)) : href(context, "/workflows"))
  }
  const route = workflowRoute(path)
  if (route?.kind === "page") return sendPage(res, context, await workflowPage(context, route.id))
  if (route?.kind === "action") {
    if (context.readOnly) return sendPage(res, context, readOnlyPage(405))
    return sendPage(res, context, await confirmPage(context, route.id, route.action))
  }
  if (route?.kind === "payload") {
    const text = await payloadText(context, route.id, route.seq, route.which)
    return text === undefined ? send(res, 404, "text/plain", "no such task") : send(res, 200, "text/plain", text)
  }
  return sendPage(res, context, { status: 404, title: "Not found", body: html`<h1>Not found</h1>`, refresh: false })
}

async function handlePost(req: IncomingMessage, res: ServerResponse, context: PageContext, path: string, who: Who, logger: Logger): Promise<void> {
  const route = workflowRoute(path)
  if (context.readOnly) {
    // The server refuses, whatever a client sends: read-only is not only hidden buttons.
    logger.warn?.("dashboard: refused a change in read-only mode", { who, path })
    res.setHeader("Allow", "GET, HEAD")
    return sendPage(res, context, readOnlyPage(405))
  }
  if (!sameOrigin(req)) {
    logger.warn?.("dashboard: refused a POST from another origin", { who, path, origin: req.headers.origin ?? null })
    return send(res, 403, "text/plain", "refused: this request does not come from the dashboard's own pages (Origin)")
  }
  const form = await readForm(req)
  const csrf = form.get("csrf")
  if (csrf === null || !secretsEqual(csrf, context.csrfToken)) {
    logger.warn?.("dashboard: refused a POST without a valid CSRF token", { who, path })
    return send(res, 403, "text/plain", "refused: missing or stale CSRF token; reload the page and try again")
  }
  if (route?.kind !== "action") return send(res, 404, "text/plain", "not found")
  const { id, action } = route
  const changed = action === "cancel" ? await context.client.cancelWorkflow(id) : await context.client.retryWorkflow(id)
  logger.info?.(`dashboard: ${action} ${changed ? "done" : "changed nothing"}`, { who, action, workflowID: id, changed })
  if (!changed) {
    const workflow = await context.client.getWorkflow(id)
    if (!workflow) return sendPage(res, context, await workflowPage(context, id))
    if (!actionApplies(action, workflow)) return redirect(res, href(context, workflowPath(id), { done: "stale" }))
  }
  return redirect(res, href(context, workflowPath(id), { done: action }))
}

/**
 * Who is asking, or `undefined` after the refusal was sent. The token (or,
 * failing it, basic auth) is checked first, then `authorize` as well: every
 * guard given must pass. With none the dashboard is open to whoever reaches
 * it (loopback by default), and logs them by address.
 */
async function identify(
  req: IncomingMessage,
  res: ServerResponse,
  guard: Pick<DashboardOptions, "authorize" | "token" | "basicAuth">,
  url: URL,
  fullPath: string,
  base: string,
): Promise<Who | undefined> {
  const address = req.socket.remoteAddress ?? "unknown"
  let who: Who = address
  if (guard.token !== undefined || guard.basicAuth !== undefined) {
    const credentials = checkCredentials(req, res, guard, url, fullPath, base)
    if (credentials === undefined) return undefined
    who = `${credentials}@${address}`
  }
  if (guard.authorize !== undefined) {
    const decision = await guard.authorize(req)
    if (decision === false) {
      send(res, 403, "text/plain", "not authorized")
      return undefined
    }
    if (typeof decision === "string") who = `${decision}@${address}`
  }
  return who
}

/** The token or basic-auth user name a request proves, or `undefined` after the 401 (or the token's redirect) was sent. */
function checkCredentials(
  req: IncomingMessage,
  res: ServerResponse,
  guard: Pick<DashboardOptions, "token" | "basicAuth">,
  url: URL,
  fullPath: string,
  base: string,
): string | undefined {
  if (guard.token !== undefined) {
    const fromQuery = url.searchParams.get("token")
    if (fromQuery !== null && secretsEqual(fromQuery, guard.token) && req.method === "GET") {
      // Trade the token in the URL for a cookie at once, so it leaves the address bar and the history.
      url.searchParams.delete("token")
      res.setHeader("Set-Cookie", tokenCookie(guard.token, base || "/"))
      redirect(res, `${fullPath}${url.search}`)
      return undefined
    }
    const presented = presentedToken(req)
    if (presented !== undefined && secretsEqual(presented, guard.token)) return "token"
    if (guard.basicAuth === undefined) {
      send(res, 401, "text/plain", "this dashboard needs its access token: open the URL it printed at start (…?token=…)")
      return undefined
    }
  }
  const user = basicAuthUser(req, guard.basicAuth as { username: string; password: string })
  if (user === undefined) {
    res.setHeader("WWW-Authenticate", 'Basic realm="durabletasks dashboard", charset="UTF-8"')
    send(res, 401, "text/plain", "this dashboard needs a user name and password")
  }
  return user
}

type Route =
  | { kind: "page"; id: string }
  | { kind: "action"; id: string; action: WorkflowAction }
  | { kind: "payload"; id: string; seq: number; which: "data" | "result" }

/** `/workflows/<id>[/cancel|/retry|/tasks/<seq>/data|result]`, the ID one encoded segment. */
function workflowRoute(path: string): Route | undefined {
  const parts = path.split("/")
  if (parts[1] !== "workflows" || parts[2] === undefined || parts[2] === "") return undefined
  let id: string
  try {
    id = decodeURIComponent(parts[2])
  } catch {
    return undefined
  }
  const rest = parts.slice(3)
  if (rest.length === 0) return { kind: "page", id }
  if (rest.length === 1 && (rest[0] === "cancel" || rest[0] === "retry")) return { kind: "action", id, action: rest[0] }
  if (rest.length === 3 && rest[0] === "tasks" && /^\d+$/.test(rest[1] as string) && (rest[2] === "data" || rest[2] === "result")) {
    return { kind: "payload", id, seq: Number(rest[1]), which: rest[2] }
  }
  return undefined
}

function readOnlyPage(status: number): Page {
  return { status, title: "Read-only", body: html`<h1>Read-only</h1><p class="problem">This dashboard is read-only: it cancels and retries nothing.</p>`, refresh: false }
}

/** A form body, at most 16 KiB (the dashboard's forms hold a token and little else). */
async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > 16_384) throw new ValidationError("request body too large")
    chunks.push(chunk)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString("utf8"))
}

function normalizeBase(basePath: string): string {
  if (typeof basePath !== "string") throw new ValidationError("basePath must be a string such as \"/dashboard\"")
  const trimmed = basePath.replace(/\/+$/, "")
  if (trimmed !== "" && !trimmed.startsWith("/")) throw new ValidationError(`basePath must start with "/", got ${JSON.stringify(basePath)}`)
  return trimmed
}

/**
 * The path under the base. Express's `app.use("/dashboard", handler)` strips
 * the prefix before calling the handler, a plain server does not: both work.
 */
function stripBase(pathname: string, base: string): string | undefined {
  if (base === "") return pathname
  if (pathname === base) return "/"
  if (pathname.startsWith(`${base}/`)) return pathname.slice(base.length)
  return pathname.startsWith("/") ? pathname : undefined
}

function sendPage(res: ServerResponse, context: PageContext, page: Page): void {
  send(res, page.status ?? 200, "text/html", layout(context, page))
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status
  res.setHeader("Content-Type", `${type}; charset=utf-8`)
  res.setHeader("Content-Length", Buffer.byteLength(body))
  res.end(res.req?.method === "HEAD" ? undefined : body)
}

function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 303
  res.setHeader("Location", location)
  res.end()
}
