/**
 * HTML building with escaping by default: every value put into the `html`
 * template is escaped unless it is already {@link SafeHTML}, so a workflow ID,
 * an error or a payload holding markup is shown as text, never run.
 *
 * @module
 */

/** Markup that was built by {@link html} (its values already escaped). */
export class SafeHTML {
  /** @internal */
  constructor(readonly text: string) {}
  toString(): string {
    return this.text
  }
}

/** A value the `html` template accepts: text is escaped, SafeHTML kept, arrays joined, null/undefined/false dropped. */
export type HTMLValue = SafeHTML | string | number | boolean | null | undefined | readonly HTMLValue[]

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)
}

function render(value: HTMLValue): string {
  if (value instanceof SafeHTML) return value.text
  if (value === null || value === undefined || value === false) return ""
  if (Array.isArray(value)) return value.map((v: HTMLValue) => render(v)).join("")
  return escapeHTML(String(value))
}

/** Tagged template: `html\`<td>${id}</td>\`` escapes `id`. */
export function html(strings: TemplateStringsArray, ...values: HTMLValue[]): SafeHTML {
  let out = strings[0] as string
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] as string)
  return new SafeHTML(out)
}

/** A time as `2024-05-01 12:00:00Z` (UTC, as the CLI prints), or a dash. */
export function timeText(value: Date | null | undefined): string {
  if (!value) return "–"
  return value.toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "Z")
}

/** How long ago, roughly: `42s`, `5m`, `3h`, `2d`. */
export function ageText(value: Date, now: number): string {
  const seconds = Math.max(0, Math.round((now - value.getTime()) / 1000))
  if (seconds < 120) return `${seconds}s`
  if (seconds < 7_200) return `${Math.round(seconds / 60)}m`
  if (seconds < 172_800) return `${Math.round(seconds / 3_600)}h`
  return `${Math.round(seconds / 86_400)}d`
}
