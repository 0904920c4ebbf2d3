/**
 * The CLI's dispatch: picks the command, parses its arguments with
 * `node:util` `parseArgs`, opens the store, runs the command, and turns every
 * outcome into an exit code (0 ok, 1 failure, 2 usage).
 *
 * @module
 */
import { createInterface } from "node:readline/promises"
import { parseArgs } from "node:util"
import { WorkflowClient } from "../client.js"
import { errorMessage } from "../logger.js"
import { EXIT, UsageError, type Command, type OptionValues } from "./command.js"
import { cancelCommand, retryCommand } from "./commands/change.js"
import { dashboardCommand } from "./commands/dashboard.js"
import { listCommand } from "./commands/list.js"
import { purgeCommand } from "./commands/purge.js"
import { showCommand } from "./commands/show.js"
import { schedulesCommand } from "./commands/schedules.js"
import { eventsCommand } from "./commands/events.js"
import { statsCommand } from "./commands/stats.js"
import { type Output, processOutput } from "./output.js"
import { STORE_OPTIONS, openStore, storeLocation } from "./store.js"

/** Every command, in the order the help lists them. */
export const COMMANDS: readonly Command[] = [listCommand, showCommand, cancelCommand, retryCommand, purgeCommand, statsCommand, schedulesCommand, eventsCommand, dashboardCommand]

const GLOBAL_OPTIONS = { ...STORE_OPTIONS, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } as const

const GLOBAL_HELP = `Store (every command):
  --sqlite PATH            a SQLite database file (or set DURABLETASKS_SQLITE)
  --postgres URL           a Postgres connection URL (or set DURABLETASKS_POSTGRES)
  --schema NAME            the Postgres schema of the tables (default public)
  --table-prefix PREFIX    the table name prefix (default durabletasks_)
Output:
  --json                   machine output: one JSON document, or JSON Lines for lists
  -h, --help               this help
Exit codes: 0 ok, 1 failure, 2 bad usage.`

const MAIN_HELP = `Usage: durabletasks <command> [options]

Looks at and repairs the workflows of a durabletasks store.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join("\n")}

Run durabletasks <command> --help for a command's options.

${GLOBAL_HELP}`

/** What the CLI runs with: the process's by default, a test's own in tests. */
export interface CLIEnvironment {
  env: NodeJS.ProcessEnv
  out: Output
  /** Whether stdin is a terminal (purge asks for confirmation there). */
  interactive: boolean
  now: () => number
}

/**
 * Runs one command line (without the `node` and script arguments) and
 * returns the exit code. Never throws.
 */
export async function runCLI(argv: readonly string[], environment: CLIEnvironment = defaultEnvironment()): Promise<number> {
  const { out } = environment
  const [name, ...rest] = argv
  if (name === undefined) {
    out.error(MAIN_HELP)
    return EXIT.usage
  }
  if (name === "--help" || name === "-h" || name === "help") {
    const topic = rest[0] === undefined ? undefined : COMMANDS.find((c) => c.name === rest[0])
    out.line(topic ? `${topic.help}\n\n${GLOBAL_HELP}` : MAIN_HELP)
    return EXIT.ok
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (command === undefined) {
    out.error(`durabletasks: unknown command ${JSON.stringify(name)}${name.startsWith("-") ? " (the command comes first)" : ""}\n\n${MAIN_HELP}`)
    return EXIT.usage
  }
  const now = environment.now()
  let values: OptionValues
  let positionals: string[]
  let location: ReturnType<typeof storeLocation>
  try {
    ;({ values, positionals } = parseArgs({ args: [...rest], options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true }))
    if (values.help === true) {
      out.line(`${command.help}\n\n${GLOBAL_HELP}`)
      return EXIT.ok
    }
    command.check(values, positionals, now)
    location = storeLocation(values, environment.env)
  } catch (error) {
    // parseArgs reports unknown options and missing values as TypeErrors with an ERR_PARSE_ARGS_ code.
    if (error instanceof UsageError || isParseArgsError(error)) {
      out.error(`durabletasks ${command.name}: ${(error as Error).message}\nRun durabletasks ${command.name} --help for its options.`)
      return EXIT.usage
    }
    throw error
  }
  let client: WorkflowClient | undefined
  try {
    client = new WorkflowClient({ storageProvider: await openStore(location) })
    const confirm = environment.interactive ? askOnTerminal : undefined
    return await command.run({ client, values, positionals, json: values.json === true, out, confirm, now, env: environment.env })
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(`durabletasks ${command.name}: ${error.message}`)
      return EXIT.usage
    }
    out.error(`durabletasks ${command.name}: ${errorMessage(error)}`)
    return EXIT.failure
  } finally {
    await client?.close().catch((error: unknown) => out.error(`durabletasks: closing the store failed: ${errorMessage(error)}`))
  }
}

function defaultEnvironment(): CLIEnvironment {
  return { env: process.env, out: processOutput(), interactive: process.stdin.isTTY === true, now: Date.now }
}

async function askOnTerminal(question: string): Promise<boolean> {
  const terminal = createInterface({ input: process.stdin, output: process.stderr })
  try {
    return /^y(es)?$/i.test((await terminal.question(question)).trim())
  } finally {
    terminal.close()
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === "string" && code.startsWith("ERR_PARSE_ARGS_")
}
