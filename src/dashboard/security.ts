/**
 * The dashboard's guards, each a small pure check so that tests can name the
 * one rule they prove: the Host allow-list (against DNS rebinding), the
 * same-origin check and CSRF token of every POST, token and basic-auth
 * credentials compared in constant time, and the response headers (a strict
 * Content-Security-Policy among them).
 *
 * @module
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto"
import type { IncomingMessage, ServerResponse } from "node:http"

/** The host names a dashboard answers by default: loopback only. */
export const LOOPBACK_HOSTS: readonly string[] = ["localhost", "127.0.0.1", "[::1]"]

/** The cookie that carries the access token after the first visit with `?token=`. */
export const TOKEN_COOKIE = "durabletasks_dashboard_token"

/**
 * The strict policy: nothing inline, nothing from elsewhere. The one script
 * and the stylesheet are served by the dashboard itself; the chart is SVG
 * markup with attributes, not inline styles.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

/** A new random secret (a CSRF or access token), URL-safe. */
export function newSecret(): string {
  return randomBytes(24).toString("base64url")
}

/**
 * Compares two secrets in time that does not depend on where they differ.
 * Both are hashed first so that their lengths do not show either.
 */
export function secretsEqual(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest()
  const b = createHash("sha256").update(expected).digest()
  return timingSafeEqual(a, b)
}

/** The host name of a Host header (or of an origin's host), lower case, without the port. */
export function hostName(host: string): string {
  const lower = host.trim().toLowerCase()
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1)
  const colon = lower.indexOf(":")
  return colon === -1 ? lower : lower.slice(0, colon)
}

/**
 * Whether the request's Host header names an allowed host. A page that a
 * foreign site's DNS name points at 127.0.0.1 (DNS rebinding) arrives with
 * that foreign name as its Host, and is refused here.
 */
export function hostAllowed(req: IncomingMessage, allowedHosts: readonly string[]): boolean {
  const host = req.headers.host
  if (typeof host !== "string" || host === "") return false
  const name = hostName(host)
  return allowedHosts.some((allowed) => hostName(allowed) === name)
}

/**
 * Whether a state-changing request comes from a page of the dashboard's own
 * origin: its Origin (or, lacking one, its Referer) must name the same host
 * and port as its Host header. A request with neither is refused: browsers
 * send Origin with every POST, and scripts have the CSRF token check besides.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const host = req.headers.host
  if (typeof host !== "string") return false
  const source = firstHeader(req.headers.origin) ?? firstHeader(req.headers.referer)
  if (source === undefined || source === "null") return false
  try {
    return new URL(source).host.toLowerCase() === host.trim().toLowerCase()
  } catch {
    return false
  }
}

/** The user name of valid basic-auth credentials, or `undefined`. Both parts are compared in constant time. */
export function basicAuthUser(req: IncomingMessage, credentials: { username: string; password: string }): string | undefined {
  const header = req.headers.authorization
  if (typeof header !== "string" || !/^basic /i.test(header)) return undefined
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8")
  const colon = decoded.indexOf(":")
  if (colon === -1) return undefined
  const username = decoded.slice(0, colon)
  // Both comparisons run whatever the first one says, so the time does not tell which part was wrong.
  const userOK = secretsEqual(username, credentials.username)
  const passwordOK = secretsEqual(decoded.slice(colon + 1), credentials.password)
  return userOK && passwordOK ? username : undefined
}

/** The access token a request carries: in its cookie or an `Authorization: Bearer` header. */
export function presentedToken(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization
  if (typeof header === "string" && /^bearer /i.test(header)) return header.slice(7).trim()
  return cookies(req).get(TOKEN_COOKIE)
}

/** The request's cookies by name. */
export function cookies(req: IncomingMessage): Map<string, string> {
  const found = new Map<string, string>()
  const header = req.headers.cookie
  if (typeof header !== "string") return found
  for (const part of header.split(";")) {
    const eq = part.indexOf("=")
    if (eq === -1) continue
    const name = part.slice(0, eq).trim()
    try {
      if (!found.has(name)) found.set(name, decodeURIComponent(part.slice(eq + 1).trim()))
    } catch {
      // A cookie of another application that is not URI-encoded is none of ours.
    }
  }
  return found
}

/** The Set-Cookie value that keeps the access token: not readable by scripts, never sent by other sites. */
export function tokenCookie(token: string, path: string): string {
  return `${TOKEN_COOKIE}=${encodeURIComponent(token)}; Path=${path}; HttpOnly; SameSite=Strict`
}

/** Sets the headers every dashboard response carries. */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader("Content-Security-Policy", CONTENT_SECURITY_POLICY)
  res.setHeader("X-Content-Type-Options", "nosniff")
  res.setHeader("X-Frame-Options", "DENY")
  // Not "no-referrer": with it, browsers send `Origin: null` on form POSTs, and the origin check could not tell.
  res.setHeader("Referrer-Policy", "same-origin")
  res.setHeader("Cache-Control", "no-store")
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
