/**
 * The overview's throughput chart: one stacked column per minute of the last
 * hour (completed, failed, cancelled), as SVG markup, since the
 * Content-Security-Policy forbids inline styles.
 *
 * @module
 */
import type { WorkflowThroughput } from "../../throughput.js"
import { ENDED_STATUSES } from "../../inspection.js"
import { html, timeText, type SafeHTML } from "../html.js"

const WIDTH = 720
const HEIGHT = 140
const LEFT = 36

/** The chart, with a title per column (minute, counts) for hover and screen readers. */
export function throughputChart(series: WorkflowThroughput): SafeHTML {
  const totals = series.intervals.map((i) => i.completed + i.failed + i.cancelled)
  const max = Math.max(1, ...totals)
  const column = (WIDTH - LEFT) / series.intervals.length
  const sum = (status: (typeof ENDED_STATUSES)[number]) => series.intervals.reduce((n, i) => n + i[status], 0)
  const label = `${sum("completed")} completed, ${sum("failed")} failed, ${sum("cancelled")} cancelled in the last ${series.intervals.length} minutes`
  return html`<svg class="chart throughput" role="img" aria-label="${label}" width="${WIDTH}" height="${HEIGHT + 20}" viewBox="0 0 ${WIDTH} ${HEIGHT + 20}">
<text x="0" y="12">${max}</text><text x="0" y="${HEIGHT}">0</text>
<line x1="${LEFT}" y1="${HEIGHT}" x2="${WIDTH}" y2="${HEIGHT}" class="axis"></line>
${series.intervals.map((interval, i) => {
  let y = HEIGHT
  const x = LEFT + i * column
  const parts = ENDED_STATUSES.filter((s) => interval[s] > 0).map((status) => {
    const h = (interval[status] / max) * (HEIGHT - 8)
    y -= h
    return html`<rect class="bar-${status}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${Math.max(1, column - 1).toFixed(1)}" height="${h.toFixed(1)}"></rect>`
  })
  return html`<g><title>${timeText(interval.start)}: ${interval.completed} completed, ${interval.failed} failed, ${interval.cancelled} cancelled</title>${parts}</g>`
})}
<text x="${LEFT}" y="${HEIGHT + 16}">${timeText(series.intervals[0]?.start).slice(11, 16)}</text>
<text x="${WIDTH - 40}" y="${HEIGHT + 16}">now</text>
</svg>`
}
