/**
 * The dashboard's security rules, each proved over real HTTP (`node:http`) on
 * SQLite and Postgres: read-only refuses a POST with 405, a POST without the
 * CSRF token or from another origin gets 403, a foreign Host is refused, markup
 * in IDs, errors and payloads is shown as text, the Content-Security-Policy
 * allows no inline script, and the token, basic-auth and `authorize` guards
 * let in only who they should, with every action logged with who and what.
 */
import assert from "node:assert/strict"
import { describe, it } from "node:test"
import { CONTENT_SECURITY_POLICY } from "../src/dashboard/security.js"
import { SCRIPT_ID, SCRIPT_PAYLOAD, STORES, csrfOf, send, workflowURL, servedOn } from "./helpers/dashboard.js"
import type { DashboardOptions } from "../src/dashboard/index.js"

describe("dashboard security", { timeout: 120_000 }, () => {
  for (const store of STORES) {
    describe(`on ${store.name}`, { skip: store.skip ?? false }, () => {
      const served = (t: { after(fn: () => Promise<void>): void }, options: Omit<DashboardOptions, "storageProvider" | "client"> = {}) =>
        servedOn(store, t, options)

      it("retries a failed workflow by POST with the CSRF token from its own origin, and logs who did what", async (t) => {
        const d = await served(t)
        const confirm = await send(d.port, workflowURL("order-2", "/retry"))
        assert.equal(confirm.status, 200)
        const posted = await send(d.port, workflowURL("order-2", "/retry"), { method: "POST", origin: `http://127.0.0.1:${d.port}`, form: { csrf: csrfOf(confirm) } })
        assert.equal(posted.status, 303, posted.body)
        assert.equal(posted.headers.location, `${workflowURL("order-2")}?done=retry`)
        assert.equal((await d.storage.getWorkflow("order-2"))?.workflow.status, "pending")
        const entry = d.logged.find((l) => l.fields?.action === "retry")
        assert.ok(entry, "the retry was logged")
        assert.equal(entry.level, "info")
        assert.deepEqual({ ...entry.fields }, { who: "127.0.0.1", action: "retry", workflowID: "order-2", changed: true })
      })

      it("read-only: a POST gets 405 whatever it carries, the confirm page too, and no buttons are shown", async (t) => {
        const writable = await served(t)
        const csrf = csrfOf(await send(writable.port, workflowURL("order-2", "/retry")))
        const d = await served(t, { readOnly: true })
        // The token of a writable dashboard's page, from the right origin: read-only refuses anyway.
        const posted = await send(d.port, workflowURL("order-2", "/retry"), { method: "POST", origin: `http://127.0.0.1:${d.port}`, form: { csrf } })
        assert.equal(posted.status, 405)
        assert.equal(posted.headers.allow, "GET, HEAD")
        assert.equal((await d.storage.getWorkflow("order-2"))?.workflow.status, "failed", "nothing changed")
        assert.equal((await send(d.port, workflowURL("order-1", "/cancel"))).status, 405)
        const page = await send(d.port, workflowURL("order-2"))
        assert.equal(page.status, 200)
        assert.doesNotMatch(page.body, /retry-link|cancel-link/)
        assert.ok(d.logged.some((l) => l.level === "warn" && /read-only/.test(l.message)), "the refusal was logged")
      })

      it("a POST without the CSRF token, or with a wrong one, gets 403 and changes nothing", async (t) => {
        const d = await served(t)
        const origin = `http://127.0.0.1:${d.port}`
        const none = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", origin, form: {} })
        assert.equal(none.status, 403)
        assert.match(none.body, /CSRF/)
        const wrong = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", origin, form: { csrf: "forged" } })
        assert.equal(wrong.status, 403)
        assert.equal((await d.storage.getWorkflow("order-1"))?.workflow.status, "pending")
      })

      it("a POST from a foreign origin, or with no Origin at all, gets 403 even with the CSRF token", async (t) => {
        const d = await served(t)
        const csrf = csrfOf(await send(d.port, workflowURL("order-1", "/cancel")))
        for (const origin of ["http://evil.example", `http://127.0.0.1:${d.port + 1}`, "null", undefined]) {
          const posted = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", form: { csrf }, ...(origin === undefined ? {} : { origin }) })
          assert.equal(posted.status, 403, `origin ${String(origin)}`)
          assert.match(posted.body, /Origin/)
        }
        assert.equal((await d.storage.getWorkflow("order-1"))?.workflow.status, "pending")
      })

      it("a foreign Host (DNS rebinding) is refused with 421, for pages and POSTs alike; allowedHosts adds names", async (t) => {
        const d = await served(t)
        for (const host of ["evil.example", `evil.example:${d.port}`, "127.0.0.1.evil.example", "localhost.", "[::2]"]) {
          assert.equal((await send(d.port, "/", { host })).status, 421, `host ${host}`)
        }
        const csrf = csrfOf(await send(d.port, workflowURL("order-1", "/cancel")))
        const posted = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", host: `evil.example:${d.port}`, origin: `http://evil.example:${d.port}`, form: { csrf } })
        assert.equal(posted.status, 421)
        assert.equal((await d.storage.getWorkflow("order-1"))?.workflow.status, "pending")
        assert.equal((await send(d.port, "/", { host: `localhost:${d.port}` })).status, 200)
        const named = await served(t, { allowedHosts: ["ops.internal"] })
        assert.equal((await send(named.port, "/", { host: "ops.internal:8080" })).status, 200)
        assert.equal((await send(named.port, "/", { host: `127.0.0.1:${named.port}` })).status, 421, "a given list replaces the default")
      })

      it("markup in IDs, errors and payloads is shown as text, and the CSP allows no inline script", async (t) => {
        const d = await served(t)
        const pages = [
          await send(d.port, "/"),
          await send(d.port, "/workflows"),
          await send(d.port, workflowURL("mail-1")),
          await send(d.port, workflowURL("order-2")),
          await send(d.port, workflowURL(SCRIPT_ID)),
          await send(d.port, workflowURL(SCRIPT_ID, "/cancel")),
        ]
        for (const page of pages) {
          assert.equal(page.status, 200)
          assert.equal(page.headers["content-security-policy"], CONTENT_SECURITY_POLICY)
          assert.equal(page.headers["x-content-type-options"], "nosniff")
          assert.doesNotMatch(page.body, /<script>|<b>/, "no markup from stored data")
          // The only script is the dashboard's own file.
          assert.deepEqual(page.body.match(/<script[^>]*>/g), ['<script src="/assets/dashboard.js" defer>'])
          assert.doesNotMatch(page.body, / style=| on[a-z]+=/i, "no inline styles or event handlers")
        }
        assert.match(pages[1]!.body, /evil-&lt;script&gt;alert\(1\)&lt;\/script&gt;/)
        assert.match(pages[2]!.body, /&lt;script&gt;alert\(&#39;xss&#39;\)&lt;\/script&gt;/)
        assert.match(pages[3]!.body, /card declined &lt;b&gt;twice&lt;\/b&gt;/)
        assert.match(CONTENT_SECURITY_POLICY, /default-src 'none'/)
        assert.match(CONTENT_SECURITY_POLICY, /script-src 'self';/)
        // The whole payload is plain text that browsers must not sniff as HTML.
        const whole = await send(d.port, workflowURL("mail-1", "/tasks/0/data"))
        assert.equal(whole.status, 200)
        assert.equal(whole.headers["content-type"], "text/plain; charset=utf-8")
        assert.ok(whole.body.includes(SCRIPT_PAYLOAD))
        assert.equal(JSON.parse(whole.body).body, "x".repeat(2_000))
      })

      it("a token guard: 401 without it; ?token= trades it for an HttpOnly SameSite=Strict cookie; a wrong one is refused", async (t) => {
        const d = await served(t, { token: "s3cret-token", basePath: "/ops" })
        assert.equal((await send(d.port, "/ops/")).status, 401)
        assert.equal((await send(d.port, "/ops/?token=wrong")).status, 401)
        const traded = await send(d.port, "/ops/workflows?status=failed&token=s3cret-token")
        assert.equal(traded.status, 303)
        assert.equal(traded.headers.location, "/ops/workflows?status=failed", "the token leaves the address bar")
        const cookie = String(traded.headers["set-cookie"])
        assert.match(cookie, /HttpOnly/)
        assert.match(cookie, /SameSite=Strict/)
        assert.match(cookie, /Path=\/ops/)
        const pair = cookie.split(";")[0] as string
        const page = await send(d.port, "/ops/workflows?status=failed", { cookie: pair })
        assert.equal(page.status, 200)
        assert.match(page.body, /order-2/)
        assert.equal((await send(d.port, "/ops/", { cookie: "durabletasks_dashboard_token=wrong" })).status, 401)
        assert.equal((await send(d.port, "/ops/", { authorization: "Bearer s3cret-token" })).status, 200)
      })

      it("basic auth: 401 with a challenge unless the user and password match", async (t) => {
        const d = await served(t, { basicAuth: { username: "ops", password: "pa:ss" } })
        const basic = (text: string) => `Basic ${Buffer.from(text).toString("base64")}`
        const refused = await send(d.port, "/")
        assert.equal(refused.status, 401)
        assert.match(String(refused.headers["www-authenticate"]), /^Basic realm=/)
        for (const wrong of ["ops:pa", "ops:pa:ssx", "op:pa:ss", "opsx:pa:ss", ":", "nocolon"]) {
          assert.equal((await send(d.port, "/", { authorization: basic(wrong) })).status, 401, wrong)
        }
        assert.equal((await send(d.port, "/", { authorization: basic("ops:pa:ss") })).status, 200)
      })

      it("authorize(req): false refuses with 403 before anything runs; a name goes into the action log", async (t) => {
        const d = await served(t, { authorize: (req) => (req.headers["x-user"] === "alice" ? "alice" : false) })
        assert.equal((await send(d.port, "/")).status, 403)
        assert.equal((await send(d.port, "/assets/dashboard.js")).status, 403)
        const alice = { "x-user": "alice" }
        const confirm = await send(d.port, workflowURL("order-1", "/cancel"), { headers: alice })
        assert.equal(confirm.status, 200)
        const posted = await send(d.port, workflowURL("order-1", "/cancel"), { method: "POST", headers: alice, origin: `http://127.0.0.1:${d.port}`, form: { csrf: csrfOf(confirm) } })
        assert.equal(posted.status, 303)
        assert.equal((await d.storage.getWorkflow("order-1"))?.workflow.status, "cancelled")
        assert.equal(d.logged.find((l) => l.fields?.action === "cancel")?.fields?.who, "alice@127.0.0.1")
        // With a token too, both must pass: the token alone does not skip authorize.
        const both = await served(t, { token: "tok", authorize: (req) => req.headers["x-user"] === "alice" })
        assert.equal((await send(both.port, "/", { authorization: "Bearer tok" })).status, 403)
        assert.equal((await send(both.port, "/", { authorization: "Bearer tok", headers: alice })).status, 200)
        assert.equal((await send(both.port, "/", { headers: alice })).status, 401)
      })
    })
  }
})

