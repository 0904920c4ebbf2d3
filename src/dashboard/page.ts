/**
 * What every page is rendered with, and the frame around it (header,
 * navigation, jump-to-ID form, the one script).
 *
 * @module
 */
import type { WorkflowClient } from "../client.js"
import { html, type SafeHTML } from "./html.js"

/** How often a page that asks for it reloads itself, in seconds. */
export const REFRESH_SECONDS = 5

/** What a page is rendered with (internal). */
export interface PageContext {
  client: WorkflowClient
  /** The path prefix the dashboard is mounted at, without a trailing slash ("" at the root). */
  base: string
  /** The request's query parameters. */
  query: URLSearchParams
  /** The token every form that changes state carries. */
  csrfToken: string
  readOnly: boolean
  now: number
}

/** A rendered page: its title, body, and whether it reloads itself. */
export interface Page {
  status?: number
  title: string
  body: SafeHTML
  refresh: boolean
}

/** A link into the dashboard: `path` under the base, with query parameters. */
export function href(context: Pick<PageContext, "base">, path: string, query?: Record<string, string | undefined>): string {
  const params = new URLSearchParams()
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined && value !== "") params.set(key, value)
  const search = params.toString()
  return `${context.base}${path}${search ? `?${search}` : ""}`
}

/** The path of a workflow's page (IDs may hold `/`, so they are encoded as one segment). */
export function workflowPath(id: string, rest = ""): string {
  return `/workflows/${encodeURIComponent(id)}${rest}`
}

/** The whole document around a page's body. */
export function layout(context: Pick<PageContext, "base" | "readOnly">, page: Page): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${page.title} · durabletasks</title>
<link rel="icon" href="${href(context, "/assets/icon.svg")}">
<link rel="stylesheet" href="${href(context, "/assets/dashboard.css")}">
<script src="${href(context, "/assets/dashboard.js")}" defer></script>
</head>
<body data-refresh="${page.refresh ? String(REFRESH_SECONDS) : ""}">
<header>
<span class="brand">durabletasks</span>
<nav><a href="${href(context, "/")}">Overview</a><a href="${href(context, "/workflows")}">Workflows</a></nav>
${context.readOnly ? html`<span class="muted">read-only</span>` : ""}
<form method="get" action="${href(context, "/go")}"><input name="id" placeholder="Jump to workflow ID" aria-label="Workflow ID" required> <button>Go</button></form>
</header>
<main>
${page.body}
</main>
</body>
</html>
`.text
}

/** A status word with its colour class. */
export function statusBadge(status: string, state?: string | null): SafeHTML {
  return html`<span class="status status-${status}">${status}</span>${state ? html` <span class="muted">(${state})</span>` : ""}`
}
