/**
 * `--config FILE` for the node commands (dp, fetch, client): a YAML mapping whose keys are the
 * command's long flags in camelCase (`--swarm-key` → `swarmKey`), so a service is one short
 * line and a file an operator edits. The keys are the command's own option definitions, never
 * a second list: a flag added to a command is a key at once. A flag given on the command line
 * wins over the file (a list flag's values replace the file's list). Light: YAML only.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { PeerstageError } from '../common/index.ts'
import { CliErrorCodes, type Command, type CommandContext } from './cli.ts'
import { ADMIN_TOKEN, CLIENT_TOKEN, DP_TOKEN } from './tracker-access.ts'

/** The roles that take a config file; a default may differ between them. */
export type ConfigRole = 'dp' | 'fetch' | 'client'

/** What the README's tables say of one flag, and how a file's value of it is read. */
export interface FlagDoc {
  /** What the value is, with its unit: `path of a directory`, `rate, e.g. 2Mbit/s`. */
  unit: string
  /** The default as the table shows it; per role where the roles differ. */
  default: string | Readonly<Record<ConfigRole, string>>
  /** The value is a path: a relative one in a file resolves against the file's directory. */
  path?: true
  /** Flags that go together (`publish` and `source`): one given on the command line drops the file's values of all of them. */
  group?: string
}

/** Per long flag, as the option definitions name it (`swarm-key`). */
export type FlagDocs = Readonly<Record<string, FlagDoc>>

/** Flags that carry a secret: never a key of a config file, their `-file` twin is. */
const SECRET_FLAGS: readonly string[] = [ADMIN_TOKEN.flag, DP_TOKEN.flag, CLIENT_TOKEN.flag]
/** Flags of the command line only: `--json` chooses the output, `--config` the file itself. */
const CLI_ONLY = ['json', 'config']

/** `swarm-key` → `swarmKey`. */
export const keyOf = (flag: string): string => flag.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase())

/** A config file read and checked against a command's flags. */
export interface ConfigFile {
  path: string
  /** Per flag, its value from the file: paths already resolved against the file's directory. */
  values: Record<string, string | boolean | string[] | boolean[]>
  /** Per flag in the file, the key it was given as. */
  keys: Map<string, string>
}

/** A command's values with a config file beneath them. */
export interface MergedValues {
  values: CommandContext['values']
  /** A usage error's message about a flag whose value came from the file, with the key and the file named. */
  annotate(message: string): string
}

function bad(path: string, key: string | undefined, rule: string): never {
  throw new PeerstageError(CliErrorCodes.BAD_CONFIG, `${path}: ${key === undefined ? '' : `${key} `}${rule}`, { details: { file: path, ...(key !== undefined && { key }) } })
}

/** The keys a command's file may hold, by key: the flag each stands for. */
export function configKeys(cmd: Command): Map<string, string> {
  return new Map(Object.keys(cmd.options).filter((f) => !CLI_ONLY.includes(f) && !SECRET_FLAGS.includes(f)).map((f) => [keyOf(f), f]))
}

/** Edit distance, for "did you mean": keys are short, so the plain table is enough. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    row = next
  }
  return row[b.length]!
}

/** Why `key` is not a key, and what to write instead. */
function unknownKey(key: string, known: Map<string, string>, cmd: Command): string {
  const camel = keyOf(key)
  if (camel !== key && known.has(camel)) return `is a flag's name: as a key it is ${camel}`
  const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
  if (CLI_ONLY.includes(flag)) return `is for the command line only (--${flag})`
  if (SECRET_FLAGS.includes(flag) && flag in cmd.options) {
    return `is a secret, and a config file is read by more people than a token should be: put the token alone in a file (mode 0600) and give ${key}File: PATH`
  }
  const nearest = [...known.keys()].map((k) => ({ k, d: distance(k.toLowerCase(), key.toLowerCase()) })).sort((x, y) => x.d - y.d)[0]
  const hint = nearest !== undefined && nearest.d <= Math.max(2, Math.floor(key.length / 3)) ? ` (did you mean ${nearest.k}?)` : ''
  return `is not a key of a ${cmd.name} config${hint}: the keys are the long flags of 'peerstage ${cmd.name} --help' in camelCase`
}

const kind = (v: unknown): string => v === null ? 'empty' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a mapping' : typeof v === 'boolean' ? `${v}` : JSON.stringify(v) ?? typeof v

/** ` (rate, e.g. 2Mbit/s)`: the README's unit, its code marks dropped. */
const unitOf = (doc: FlagDoc | undefined): string => doc === undefined ? '' : ` (${doc.unit.replaceAll('`', '')})`

/** One scalar of a string flag: YAML numbers count (`bulkPort: 7000`, `seedFor: 30`), as the command line has only text. */
function scalar(value: unknown, key: string, doc: FlagDoc | undefined, path: string): string {
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  bad(path, key, `must be a single value${unitOf(doc)}, not ${kind(value)}`)
}

/**
 * Reads FILE and checks it against `cmd`'s flags: every key a long flag in camelCase (not a
 * secret, not a command-line-only one), every value of its flag's type. Errors name the key
 * and the rule, code PEERSTAGE_CLI_BAD_CONFIG.
 */
export function readConfigFile(file: string, cmd: Command): ConfigFile {
  const path = resolve(file)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    bad(path, undefined, `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  let doc: unknown
  try {
    doc = parseYaml(text)
  } catch (err) {
    bad(path, undefined, `is not valid YAML: ${(err as Error).message.split('\n')[0]!.replace(/:$/, '')}`)
  }
  doc ??= {} // an empty file
  if (typeof doc !== 'object' || Array.isArray(doc)) bad(path, undefined, `must be a mapping of keys to values (swarmKey: swarm.key), not ${kind(doc)}`)
  const known = configKeys(cmd)
  const docs = cmd.configFile ?? {}
  const baseDir = dirname(path)
  const values: ConfigFile['values'] = {}
  const origin = new Map<string, string>()
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const flag = known.get(key)
    if (flag === undefined) bad(path, key, unknownKey(key, known, cmd))
    if (value === null) bad(path, key, 'has no value: give one, or delete the key')
    const option = cmd.options[flag]!
    const flagDoc = docs[flag]
    const read = (v: unknown, k: string): string => {
      const s = scalar(v, k, flagDoc, path)
      return flagDoc?.path === true && s !== '' ? resolve(baseDir, s) : s
    }
    if (option.type === 'boolean') {
      if (typeof value !== 'boolean') bad(path, key, `must be true or false, not ${kind(value)}`)
      values[flag] = option.multiple === true ? [value] : value
    } else if (option.multiple === true) {
      // One value is a list of one: `tracker: http://10.0.0.5:7070`.
      if (typeof value === 'object' && !Array.isArray(value)) bad(path, key, `must be a list of values${unitOf(flagDoc)}, not ${kind(value)}`)
      values[flag] = Array.isArray(value) ? value.map((v, i) => read(v, `${key}[${i}]`)) : [read(value, key)]
    } else {
      values[flag] = read(value, key)
    }
    origin.set(flag, key)
  }
  return { path, values, keys: origin }
}

/** The flags a command-line flag replaces in the file: its group, or a token and its `-file` twin. */
function groupOf(flag: string, docs: FlagDocs): string {
  return docs[flag]?.group ?? flag.replace(/-file$/, '')
}

/** The command's values: the file's, then the command line's over them (a flag replaces the file's values of its whole group). */
export function withConfigFile(cli: CommandContext['values'], config: ConfigFile, cmd: Command): MergedValues {
  const docs = cmd.configFile ?? {}
  const given = new Set(Object.keys(cli).filter((f) => f !== 'config' && cli[f] !== undefined).map((f) => groupOf(f, docs)))
  const kept = Object.fromEntries(Object.entries(config.values).filter(([flag]) => !given.has(groupOf(flag, docs))))
  const { config: _file, ...rest } = cli
  return {
    values: { ...kept, ...rest },
    annotate(message) {
      // The first flag the message names whose value came from the file: the one it is about.
      for (const [, flag] of message.matchAll(/--([a-z][a-z0-9-]*)/g)) {
        const key = flag! in kept ? config.keys.get(flag!) : undefined
        if (key !== undefined) return `${message} (${key} in ${config.path})`
      }
      return message
    },
  }
}

/** The README's table of one role's keys: key, flag, default, unit; a flag without a doc shows `?`. */
export function configTable(cmd: Command): string {
  const docs = cmd.configFile ?? {}
  const rows = [...configKeys(cmd)].map(([key, flag]) => {
    const doc = docs[flag]
    const dflt = doc === undefined ? '?' : typeof doc.default === 'string' ? doc.default : (doc.default as Record<string, string>)[cmd.name] ?? '?'
    const list = cmd.options[flag]!.multiple === true ? 'list: ' : ''
    return `| \`${key}\` | \`--${flag}\` | ${dflt} | ${doc === undefined ? '?' : `${list}${doc.unit}`} |`
  })
  return ['| key | flag | default | unit |', '|---|---|---|---|', ...rows].join('\n')
}
