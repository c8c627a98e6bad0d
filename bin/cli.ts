import { parseArgs, type ParseArgsOptionsConfig } from 'node:util'
import { PeerstageError, defineErrorCodes, endStatusLine, exitCodeOf, isPeerstageError } from '../common/index.ts'
import type { FlagDocs, MergedValues } from './config-file.ts'

/** Stable codes of the CLI itself and their classes (common/errors.ts). */
export const CliErrorCodes = defineErrorCodes('cli', {
  /** A missing or unknown option, or the wrong number of arguments: exit 2, one line, the command's help named. */
  USAGE: { code: 'PEERSTAGE_CLI_USAGE', class: 'usage' },
  /** A `--config FILE` that cannot be read, is not YAML, or has an unknown key or a value of the wrong type: exit 2, naming the key. */
  BAD_CONFIG: { code: 'PEERSTAGE_CLI_BAD_CONFIG', class: 'usage' },
  /** `--require-trust` without a `--trust PUBFILE`: the publisher could not be checked, so nothing is done. Exit 2. */
  TRUST_REQUIRED: { code: 'PEERSTAGE_CLI_TRUST_REQUIRED', class: 'usage' },
  /** The Node running the CLI is older than 24; thrown by the plain-JS launcher bin/peerstage.js, which spells it out. */
  NODE_TOO_OLD: { code: 'PEERSTAGE_CLI_NODE_TOO_OLD', class: 'usage' },
})

/** A CLI usage mistake: exit 2, one line, the command's help named. */
export const USAGE = CliErrorCodes.USAGE

export function usageError(message: string): PeerstageError {
  return new PeerstageError(USAGE, message)
}

export interface CommandContext {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>
  positionals: string[]
  json: boolean
  /** Human-readable output (stdout). */
  print(line: string): void
  /** The single JSON document of `--json` (stdout). */
  printJson(value: unknown): void
}

/** A command's one-line summary is its entry's in commands.ts, the registry `--help` lists. */
export interface Command {
  name: string
  /** Full help: usage line, description, options, exit codes. */
  help: string
  options: ParseArgsOptionsConfig
  /** Positional arguments: exactly this many, or [min, max]. */
  positionals: number | [number, number]
  /**
   * Set: the command also takes `--config FILE`, a YAML file whose keys are its long flags in
   * camelCase (config-file.ts); these say each flag's unit and default for the README's
   * tables, and which values are paths (resolved against the file's directory).
   */
  configFile?: FlagDocs
  /** Returns the exit code. */
  run(ctx: CommandContext): Promise<number>
}

/**
 * Parses argv for one command and runs it. Expected failures print one sentence (or the
 * error object with --json) and exit by the class of their code (exitCodeOf): 2 when the
 * work could not start (usage, refused), 1 when it started and failed or may pass later.
 */
export async function runCommand(cmd: Command, argv: string[]): Promise<number> {
  const json = argv.includes('--json')
  const out = {
    print: (line: string) => { process.stdout.write(`${line}\n`) },
    printJson: (value: unknown) => { process.stdout.write(`${JSON.stringify(value, null, 2)}\n`) },
  }
  if (argv.includes('--help') || argv.includes('-h')) {
    out.print(cmd.help)
    return 0
  }
  let config: MergedValues | undefined
  try {
    let parsed
    try {
      parsed = parseArgs({ args: argv, options: { ...cmd.options, json: { type: 'boolean' }, ...(cmd.configFile && { config: { type: 'string' } }) }, allowPositionals: true, strict: true })
    } catch (err) {
      throw usageError((err as Error).message.replace(/\. To specify a positional.*$/s, ''))
    }
    const [min, max] = typeof cmd.positionals === 'number' ? [cmd.positionals, cmd.positionals] : cmd.positionals
    if (parsed.positionals.length < min || parsed.positionals.length > max) {
      throw usageError(`expects ${min === max ? min : `${min} to ${max}`} argument${max === 1 ? '' : 's'}, got ${parsed.positionals.length}`)
    }
    let values: CommandContext['values'] = parsed.values
    if (cmd.configFile !== undefined && typeof values.config === 'string') {
      // Loaded only when used: the other commands never read YAML.
      const { readConfigFile, withConfigFile } = await import('./config-file.ts')
      config = withConfigFile(values, readConfigFile(values.config, cmd), cmd)
      values = config.values
    }
    return await cmd.run({ values, positionals: parsed.positionals, json, ...out })
  } catch (err) {
    if (!isPeerstageError(err)) throw err
    if (config !== undefined && err.code === USAGE) err.message = config.annotate(err.message)
    if (json) out.printJson({ error: err.toJSON() })
    else {
      endStatusLine(process.stderr, true) // a bar cut short stays as it was, on its own line, above the reason
      process.stderr.write(`peerstage ${cmd.name}: ${err.message}\n`)
      if (err.code === USAGE) process.stderr.write(`Try 'peerstage ${cmd.name} --help'.\n`)
    }
    return exitCodeOf(err)
  }
}

/** A required string option, or a usage error naming it. */
export function requireString(ctx: CommandContext, name: string): string {
  const v = ctx.values[name]
  if (typeof v !== 'string' || v === '') throw usageError(`--${name} is required`)
  return v
}

/** An optional string option, undefined when absent. */
export function optionalString(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.values[name]
  return typeof v === 'string' ? v : undefined
}

export function stringList(ctx: CommandContext, name: string): string[] {
  const v = ctx.values[name]
  return Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : []
}
