#!/usr/bin/env node
/**
 * The `durabletasks` command (`npx durabletasks …`): see `durabletasks --help`
 * and the README's CLI section.
 *
 * @module
 */
import { runCLI } from "./cli/main.js"

// `durabletasks list | head` closes stdout early: that is the reader's choice, not a failure.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0)
  throw error
})

process.exitCode = await runCLI(process.argv.slice(2))
