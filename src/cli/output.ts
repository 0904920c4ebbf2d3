/**
 * How the CLI prints: JSON documents and lines for scripts, aligned columns
 * and short values for people.
 *
 * @module
 */

/** Where a command writes. */
export interface Output {
  /** A line on stdout. */
  line(text: string): void
  /** One JSON value on one line of stdout (a document, or a JSON Lines record). */
  json(value: unknown): void
  /** A line on stderr (errors, hints). */
  error(text: string): void
}

/** An Output on the process's stdout and stderr. */
export function processOutput(): Output {
  return {
    line: (text) => process.stdout.write(`${text}\n`),
    json: (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
    error: (text) => process.stderr.write(`${text}\n`),
  }
}

/** Rows as columns padded to their widest cell (the last column unpadded). */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)))
  const format = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd()
  return [format(header), ...rows.map(format)]
}

/** A time as ISO 8601 (UTC), or "-". */
export function time(value: Date | null | undefined): string {
  return value ? value.toISOString() : "-"
}

/** JSON of a payload for people: cut at `max` characters unless `max` is Infinity. */
export function payload(value: unknown, max: number): string {
  const text = value === undefined ? "-" : JSON.stringify(value)
  return text.length > max ? `${text.slice(0, max)}… (${text.length} characters; --full shows all)` : text
}

/** Control characters shown escaped, so stored text cannot move the cursor or change the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`)
}
