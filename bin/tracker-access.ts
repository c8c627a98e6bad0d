/**
 * How a command proves itself to a tracker and trusts it: a token from a flag, a file or the
 * environment (a flag's value is visible to every user in `ps`; a file's or the environment's
 * is not), and the CA of an `https://` tracker. Light: no tracker code is imported here.
 */
import { readFileSync } from 'node:fs'
import { optionalString, usageError, type CommandContext } from './cli.ts'

/** The three ways of giving one token: `--token T`, `--token-file FILE`, `$PEERSTAGE_TOKEN`. */
export interface TokenSource {
  /** `token`, `dp-token` or `client-token`; `--NAME-file` is the file flag. */
  flag: string
  /** The environment variable read when neither flag is given. */
  env: string
}

export const ADMIN_TOKEN: TokenSource = { flag: 'token', env: 'PEERSTAGE_TOKEN' }
export const DP_TOKEN: TokenSource = { flag: 'dp-token', env: 'PEERSTAGE_DP_TOKEN' }
export const CLIENT_TOKEN: TokenSource = { flag: 'client-token', env: 'PEERSTAGE_CLIENT_TOKEN' }

/** The parseArgs options of a token source and of --tracker-ca. */
export function trackerAccessOptions(source: TokenSource): Record<string, { type: 'string' }> {
  return { [source.flag]: { type: 'string' }, [`${source.flag}-file`]: { type: 'string' }, 'tracker-ca': { type: 'string' } }
}

function readOption(path: string, flag: string, what: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    throw usageError(`--${flag} '${path}' cannot be read (${what}): ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/**
 * The token from `--NAME`, else `--NAME-file` (white space around it dropped), else the
 * environment variable; undefined when none is given. With `required`, a usage error naming
 * all three. Both flags at once, an empty file or an empty variable are usage errors.
 */
export function tokenOption(ctx: CommandContext, source: TokenSource, required = false): string | undefined {
  const literal = optionalString(ctx, source.flag)
  const file = optionalString(ctx, `${source.flag}-file`)
  if (literal !== undefined && file !== undefined) throw usageError(`--${source.flag} and --${source.flag}-file exclude each other: give the token one way`)
  if (literal !== undefined) {
    if (literal === '') throw usageError(`--${source.flag} must not be empty`)
    return literal
  }
  if (file !== undefined) {
    const token = readOption(file, `${source.flag}-file`, 'it holds the token').trim()
    if (token === '') throw usageError(`--${source.flag}-file '${file}' is empty: it must hold the token`)
    return token
  }
  const fromEnv = process.env[source.env]
  if (fromEnv !== undefined) {
    if (fromEnv.trim() === '') throw usageError(`${source.env} is set but empty: unset it or give the token`)
    return fromEnv.trim()
  }
  if (required) throw usageError(`--${source.flag} is required (or --${source.flag}-file FILE, or ${source.env} in the environment)`)
  return undefined
}

/** `--tracker-ca FILE`: PEM certificates to trust for an https:// tracker; undefined: Node's default CA store. */
export function trackerCaOption(ctx: CommandContext): Buffer | undefined {
  const path = optionalString(ctx, 'tracker-ca')
  if (path === undefined) return undefined
  const text = readOption(path, 'tracker-ca', 'the CA certificate')
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw usageError(`--tracker-ca '${path}' is not a PEM certificate (-----BEGIN CERTIFICATE-----): give the CA's certificate, or the tracker's own if self-signed`)
  return Buffer.from(text)
}
