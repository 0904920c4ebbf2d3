/**
 * `durabletasks events [list]` lists stored events; `durabletasks events send
 * NAME` sends one (waking the workflows waiting for it), idempotent by
 * `--id`.
 *
 * @module
 */
import { EXIT, UsageError, type Command, type CommandContext } from "../command.js"
import { payload, printable, table, time } from "../output.js"
import { parseCount, stringOption } from "../values.js"

/** The `events` command. */
export const eventsCommand: Command = {
  name: "events",
  summary: "list stored events, or send one",
  help: `Usage: durabletasks events [list] [options]
       durabletasks events send NAME [--key KEY] [--payload JSON] [--id EVENT_ID]

list (the default) shows stored events in the store's order (seq).
send stores an event and wakes every workflow waiting for it (a waitForEvent
step with this name and key); a second send with the same --id changes nothing.

Options (list):
  --name NAME              only events of this name
  --key KEY                only events with this key (with --name)
  --after SEQ              continue after this seq
  --limit N                how many to show (1 to 1000, default 100)
Options (send):
  --key KEY                the event's key (omit for none)
  --payload JSON           the event's payload, as JSON (default null)
  --id EVENT_ID            the event's ID, for idempotent sends (default: a random UUID)`,
  options: {
    name: { type: "string" },
    key: { type: "string" },
    after: { type: "string" },
    limit: { type: "string" },
    payload: { type: "string" },
    id: { type: "string" },
  },
  check(values, positionals) {
    const [action = "list", ...rest] = positionals
    if (action === "list") {
      if (rest.length > 0) throw new UsageError(`events list takes no arguments, got ${rest.join(" ")}`)
      if (values.payload !== undefined || values.id !== undefined) throw new UsageError("--payload and --id are for send, not list")
      if (values.key !== undefined && values.name === undefined) throw new UsageError("--key needs --name")
      const limit = stringOption(values, "limit")
      if (limit !== undefined) parseCount(limit, "--limit", 1, 1_000)
      const after = stringOption(values, "after")
      if (after !== undefined) parseCount(after, "--after", 0, Number.MAX_SAFE_INTEGER)
      return
    }
    if (action !== "send") throw new UsageError(`events takes list or send, got ${JSON.stringify(action)}`)
    if (rest.length !== 1) throw new UsageError("events send takes one event NAME")
    if (values.name !== undefined || values.after !== undefined || values.limit !== undefined) {
      throw new UsageError("--name, --after and --limit are for list, not send")
    }
    const text = stringOption(values, "payload")
    if (text !== undefined) parsePayload(text)
  },
  async run(context) {
    const [action = "list"] = context.positionals
    return action === "send" ? send(context) : list(context)
  },
}

function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new UsageError(`--payload must be JSON (quote a string: '"text"'), got ${text}`)
  }
}

async function list(context: CommandContext): Promise<number> {
  const limit = stringOption(context.values, "limit")
  const after = stringOption(context.values, "after")
  const events = await context.client.listEvents({
    name: stringOption(context.values, "name"),
    key: stringOption(context.values, "key"),
    afterSeq: after === undefined ? undefined : parseCount(after, "--after", 0, Number.MAX_SAFE_INTEGER),
    limit: limit === undefined ? 100 : parseCount(limit, "--limit", 1, 1_000),
  })
  if (context.json) {
    for (const e of events) context.out.json(e)
    return EXIT.ok
  }
  const rows = events.map((e) => [String(e.seq), printable(e.name), e.key === null ? "-" : printable(e.key), time(e.sentAt), printable(e.eventID), printable(payload(e.payload, 60))])
  for (const line of table(["SEQ", "NAME", "KEY", "SENT", "EVENT ID", "PAYLOAD"], rows)) context.out.line(line)
  return EXIT.ok
}

async function send(context: CommandContext): Promise<number> {
  const name = context.positionals[1] as string
  const key = stringOption(context.values, "key")
  const text = stringOption(context.values, "payload")
  const eventID = stringOption(context.values, "id")
  const sent = await context.client.sendEvent({
    name,
    ...(key === undefined ? {} : { key }),
    ...(text === undefined ? {} : { payload: parsePayload(text) }),
    ...(eventID === undefined ? {} : { eventID }),
  })
  if (context.json) context.out.json(sent)
  else if (sent.created) context.out.line(`sent ${printable(name)} (seq ${sent.seq}, event ID ${printable(sent.eventID)}): woke ${sent.woken} waiting workflow(s)`)
  else context.out.line(`event ID ${printable(sent.eventID)} was sent already (seq ${sent.seq}, ${time(sent.sentAt)}): nothing changed`)
  return EXIT.ok
}
