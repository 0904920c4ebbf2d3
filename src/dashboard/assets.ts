/**
 * The dashboard's two static files, served from its own origin so that the
 * Content-Security-Policy can forbid everything inline: the stylesheet, and
 * the one small script, which reloads the page every few seconds while it is
 * visible (and never while a confirm form is open).
 *
 * @module
 */

/** The refresh script, served as `assets/dashboard.js`. */
export const DASHBOARD_SCRIPT = `// durabletasks dashboard: reloads the page while it is visible, on pages that ask for it.
(function () {
  var seconds = Number(document.body.getAttribute("data-refresh"))
  if (!(seconds > 0)) return
  var timer = null
  function schedule() {
    clearTimeout(timer)
    if (document.visibilityState === "visible") timer = setTimeout(reload, seconds * 1000)
  }
  function reload() {
    // A page someone is typing into keeps what they typed.
    var active = document.activeElement
    if (active && (active.tagName === "INPUT" || active.tagName === "SELECT")) return schedule()
    location.reload()
  }
  document.addEventListener("visibilitychange", schedule)
  schedule()
})()
`

/** The stylesheet, served as `assets/dashboard.css`. */
export const DASHBOARD_STYLES = `
:root { color-scheme: light; --fg: #1d232a; --muted: #5d6770; --line: #dde2e6; --bg: #f6f8f9; --accent: #1f5fa8;
  --pending: #b07d10; --completed: #1d7a43; --failed: #b3261e; --cancelled: #6b6f75; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: center; padding: .6rem 1.2rem; background: #fff; border-bottom: 1px solid var(--line); }
header .brand { font-weight: 600; }
header nav a { margin-right: 1rem; }
header form { margin-left: auto; }
main { padding: 1rem 1.2rem; max-width: 1200px; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
h1 { font-size: 1.3rem; margin: .2rem 0 1rem; word-break: break-all; }
h2 { font-size: 1.05rem; margin: 1.4rem 0 .5rem; }
.cards { display: flex; gap: .8rem; flex-wrap: wrap; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .7rem 1rem; min-width: 140px; }
.card .n { font-size: 1.6rem; font-weight: 600; }
.card .label { color: var(--muted); }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f3; font-weight: 600; }
td.id { word-break: break-all; font-family: ui-monospace, monospace; }
.status { font-weight: 600; }
.status-pending { color: var(--pending); } .status-completed { color: var(--completed); }
.status-failed { color: var(--failed); } .status-cancelled { color: var(--cancelled); } .status-interrupted { color: var(--cancelled); }
.muted { color: var(--muted); }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; font: 12px/1.4 ui-monospace, monospace; max-width: 520px; }
pre.error { color: var(--failed); }
form.filters { display: flex; gap: .6rem; flex-wrap: wrap; align-items: end; margin-bottom: .8rem; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
input, select, button { font: inherit; padding: .25rem .4rem; }
button { cursor: pointer; border: 1px solid var(--line); border-radius: 4px; background: #fff; }
button.danger { border-color: var(--failed); color: var(--failed); }
button.primary { border-color: var(--accent); background: var(--accent); color: #fff; }
.actions { display: flex; gap: .6rem; margin: .6rem 0 1rem; }
.notice { background: #e8f3ec; border: 1px solid #b9dcc5; padding: .5rem .8rem; border-radius: 4px; margin-bottom: 1rem; }
.problem { background: #fbeaea; border: 1px solid #efc0bd; padding: .5rem .8rem; border-radius: 4px; margin-bottom: 1rem; }
.pager { margin-top: .8rem; display: flex; gap: 1rem; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0 0 1rem; }
dl.facts dt { color: var(--muted); } dl.facts dd { margin: 0; word-break: break-all; }
h3 { font-size: .9rem; margin: .6rem 0 .3rem; color: var(--muted); font-weight: 600; }
svg.chart .axis { stroke: var(--line); }
svg.chart text { font: 12px system-ui, sans-serif; fill: var(--fg); }
svg.chart .bar-pending { fill: var(--pending); } svg.chart .bar-completed { fill: var(--completed); }
svg.chart .bar-failed { fill: var(--failed); } svg.chart .bar-cancelled { fill: var(--cancelled); }
`

/** The tab icon, served as `assets/icon.svg` (browsers otherwise ask for /favicon.ico, outside a base path). */
export const DASHBOARD_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#1f5fa8"/><path d="M5 8h6" stroke="#fff" stroke-width="2"/></svg>`
