/**
 * What every CLI command is: its options for `parseArgs`, its help text, and
 * a run function that returns the exit code.
 *
 * @module
 */
import type { ParseArgsConfig } from "node:util"
import type { WorkflowClient } from "../client.js"
import type { Output } from "./output.js"

/** The exit codes: 0 ok, 1 the command failed (or partly failed), 2 bad usage. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const

/** A command-line mistake: printed with the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = "UsageError"
}

/** The parsed values of a command line (after `parseArgs`). */
export type OptionValues = Record<string, string | boolean | string[] | boolean[] | undefined>

/** What a command runs with. */
export interface CommandContext {
  /** The client on the store the command line names (opened after parsing succeeded). */
  client: WorkflowClient
  values: OptionValues
  positionals: string[]
  /** `--json`: machine output (one JSON document, or JSON Lines for lists). */
  json: boolean
  out: Output
  /** Asks a yes/no question on the terminal; `undefined` when stdin is not a terminal. */
  confirm: ((question: string) => Promise<boolean>) | undefined
  /** The time the command runs at, ms since the epoch. */
  now: number
  /** The environment variables (the dashboard reads its basic-auth credentials there). */
  env: NodeJS.ProcessEnv
}

/** One `durabletasks <name>` command. */
export interface Command {
  name: string
  /** One line for the command list. */
  summary: string
  /** The help text: usage line and options (global options are appended). */
  help: string
  /** Its own options (the global ones are added). */
  options: NonNullable<ParseArgsConfig["options"]>
  /** Checks the parsed arguments before any store is opened; throws UsageError. */
  check(values: OptionValues, positionals: string[], now: number): void
  run(context: CommandContext): Promise<number>
}
