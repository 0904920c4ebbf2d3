/**
 * `durabletasks dashboard`: serves the web dashboard until stopped (Ctrl-C
 * or SIGTERM). Loopback only by default; any other address needs a guard,
 * so a token is made at start when no basic auth is given.
 *
 * @module
 */
import { createServer } from "node:http"
import { hostname, networkInterfaces } from "node:os"
import { createDashboard } from "../../dashboard/handler.js"
import { LOOPBACK_HOSTS, newSecret } from "../../dashboard/security.js"
import { EXIT, UsageError, type Command, type OptionValues } from "../command.js"
import { parseCount, stringOption, stringsOption } from "../values.js"

/** The port the dashboard listens on unless `--port` says otherwise. */
export const DEFAULT_DASHBOARD_PORT = 4747

/** The `dashboard` command. */
export const dashboardCommand: Command = {
  name: "dashboard",
  summary: "serve the web dashboard (127.0.0.1 by default)",
  help: `Usage: durabletasks dashboard [options]

Serves the web dashboard until stopped (Ctrl-C). It can cancel and retry
workflows: on any address other than loopback it needs basic auth, or else it
makes an access token at start and prints it in the URL.

Options:
  --host HOST              address to listen on (default 127.0.0.1)
  --port N                 port (default ${DEFAULT_DASHBOARD_PORT}; 0 picks a free one)
  --read-only              refuse every cancel and retry (405)
  --allowed-host NAME      a host name people reach it by (repeatable); loopback
                           names, --host and, for 0.0.0.0, this machine's names
                           and addresses are allowed already
  --basic-auth USER:PASS   basic auth instead of a token; better set
                           DURABLETASKS_DASHBOARD_AUTH=USER:PASS (not shown in ps)`,
  options: {
    host: { type: "string" },
    port: { type: "string" },
    "read-only": { type: "boolean" },
    "allowed-host": { type: "string", multiple: true },
    "basic-auth": { type: "string" },
  },
  check(values, positionals) {
    if (positionals.length > 0) throw new UsageError(`dashboard takes no arguments, got ${JSON.stringify(positionals[0])}`)
    const port = stringOption(values, "port")
    if (port !== undefined) parseCount(port, "--port", 0, 65_535)
    if (stringOption(values, "host") === "") throw new UsageError("--host must not be empty")
    const auth = stringOption(values, "basic-auth")
    if (auth !== undefined) parseBasicAuth(auth, "--basic-auth")
  },
  async run(context) {
    const host = stringOption(context.values, "host") ?? "127.0.0.1"
    const port = parseCount(stringOption(context.values, "port") ?? String(DEFAULT_DASHBOARD_PORT), "--port", 0, 65_535)
    const readOnly = context.values["read-only"] === true
    const authText = stringOption(context.values, "basic-auth") ?? nonEmpty(context.env.DURABLETASKS_DASHBOARD_AUTH)
    const basicAuth = authText === undefined ? undefined : parseBasicAuth(authText, "DURABLETASKS_DASHBOARD_AUTH")
    const loopback = isLoopback(host)
    // Beyond loopback, whoever reaches the port could cancel workflows: without basic auth, a token guards it.
    const token = !loopback && basicAuth === undefined ? newSecret() : undefined
    const allowedHosts = allowedHostsFor(host, stringsOptionOf(context.values))
    const dashboard = createDashboard({
      client: context.client,
      readOnly,
      allowedHosts,
      ...(token === undefined ? {} : { token }),
      ...(basicAuth === undefined ? {} : { basicAuth }),
      logger: {
        info: (message, fields) => context.out.error(JSON.stringify({ time: new Date().toISOString(), level: "info", message, ...fields })),
        warn: (message, fields) => context.out.error(JSON.stringify({ time: new Date().toISOString(), level: "warn", message, ...fields })),
        error: (message, fields) => context.out.error(JSON.stringify({ time: new Date().toISOString(), level: "error", message, ...fields })),
      },
    })
    const server = createServer((req, res) => void dashboard(req, res))
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, host, () => resolve())
    })
    const address = server.address()
    const boundPort = typeof address === "object" && address !== null ? address.port : port
    const shownHost = host === "0.0.0.0" || host === "::" ? hostname() : host.includes(":") ? `[${host}]` : host
    const url = `http://${shownHost}:${boundPort}/${token === undefined ? "" : `?token=${token}`}`
    if (context.json) context.out.json({ url, host, port: boundPort, readOnly, auth: token ? "token" : basicAuth ? "basic" : "none" })
    else context.out.line(`durabletasks dashboard${readOnly ? " (read-only)" : ""}: ${url}\nCtrl-C stops it.`)
    await new Promise<void>((resolve) => {
      const stop = () => {
        process.off("SIGINT", stop)
        process.off("SIGTERM", stop)
        resolve()
      }
      process.on("SIGINT", stop)
      process.on("SIGTERM", stop)
    })
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    await dashboard.close()
    return EXIT.ok
  },
}

/** Whether an address to listen on is loopback only. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/** The host names the dashboard answers to when it listens on `host`. */
export function allowedHostsFor(host: string, extra: readonly string[]): string[] {
  const names = new Set<string>([...LOOPBACK_HOSTS, ...extra])
  if (host === "0.0.0.0" || host === "::") {
    names.add(hostname())
    for (const list of Object.values(networkInterfaces())) {
      for (const info of list ?? []) names.add(info.family === "IPv6" ? `[${info.address}]` : info.address)
    }
  } else names.add(host.includes(":") ? `[${host}]` : host)
  return [...names]
}

function stringsOptionOf(values: OptionValues): string[] {
  return stringsOption(values, "allowed-host")
}

function parseBasicAuth(text: string, where: string): { username: string; password: string } {
  const colon = text.indexOf(":")
  if (colon <= 0 || colon === text.length - 1) throw new UsageError(`${where} takes USER:PASSWORD, both non-empty`)
  return { username: text.slice(0, colon), password: text.slice(colon + 1) }
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value
}
