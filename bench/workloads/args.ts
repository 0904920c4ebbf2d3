/**
 * The command-line options of the bench scripts.
 *
 * @module
 */

/** The text of option `--name`, given as `--name value` or `--name=value`; undefined if absent. */
export function optionText(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`)
  if (i >= 0) return argv[i + 1]
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3)
}
