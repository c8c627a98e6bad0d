import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BandwidthErrorCodes } from '../../bandwidth/index.ts'
import { CliErrorCodes, runCommand, type Command } from '../../bin/cli.ts'
import { ChunkerErrorCodes } from '../../chunker/index.ts'
import {
  currentCode, defineErrorCodes, errorClassOf, errorCodes, exitCodeOf, isPeerstageError, isTransient, PeerstageError, type ErrorClass,
} from '../../common/index.ts'
import { NodeErrorCodes, StoreErrorCodes } from '../../node/index.ts'
import { TrackerErrorCodes } from '../../tracker/index.ts'

/** Each module's tables, as its index exports them, and the MODULE of its `PEERSTAGE_<MODULE>_` codes. */
const TABLES: Array<[module: string, table: Record<string, string>]> = [
  ['cli', CliErrorCodes], ['chunker', ChunkerErrorCodes], ['bandwidth', BandwidthErrorCodes],
  ['node', NodeErrorCodes], ['node', StoreErrorCodes], ['tracker', TrackerErrorCodes],
]

/** Codes renamed to follow the rule; they match as aliases for one release, then go. */
const OLD_CODES: Record<string, string> = {
  PEERSTAGE_MANIFEST_UNREADABLE: ChunkerErrorCodes.MANIFEST_UNREADABLE,
  PEERSTAGE_MANIFEST_TRUNCATED: ChunkerErrorCodes.MANIFEST_TRUNCATED,
  PEERSTAGE_MANIFEST_NOT_JSON: ChunkerErrorCodes.MANIFEST_NOT_JSON,
  PEERSTAGE_MANIFEST_FORMAT: ChunkerErrorCodes.MANIFEST_FORMAT,
  PEERSTAGE_MANIFEST_SCHEMA: ChunkerErrorCodes.MANIFEST_SCHEMA,
  PEERSTAGE_MANIFEST_BAD_NAME: ChunkerErrorCodes.MANIFEST_BAD_NAME,
  PEERSTAGE_MANIFEST_BAD_PATH: ChunkerErrorCodes.MANIFEST_BAD_PATH,
  PEERSTAGE_MANIFEST_DUPLICATE_PATH: ChunkerErrorCodes.MANIFEST_DUPLICATE_PATH,
  PEERSTAGE_MANIFEST_SIZE_MISMATCH: ChunkerErrorCodes.MANIFEST_SIZE_MISMATCH,
  PEERSTAGE_MANIFEST_BAD_SIGNATURE: ChunkerErrorCodes.MANIFEST_BAD_SIGNATURE,
  PEERSTAGE_MANIFEST_UNTRUSTED: ChunkerErrorCodes.MANIFEST_UNTRUSTED,
  PEERSTAGE_KEY_INVALID: ChunkerErrorCodes.KEY_INVALID,
  PEERSTAGE_KEY_EXISTS: ChunkerErrorCodes.KEY_EXISTS,
  PEERSTAGE_PACK_SOURCE_UNREADABLE: ChunkerErrorCodes.PACK_SOURCE_UNREADABLE,
  PEERSTAGE_PACK_UNSUPPORTED_FILE: ChunkerErrorCodes.PACK_UNSUPPORTED_FILE,
  PEERSTAGE_PACK_SOURCE_CHANGED: ChunkerErrorCodes.PACK_SOURCE_CHANGED,
  PEERSTAGE_PACK_OUTPUT_UNWRITABLE: ChunkerErrorCodes.PACK_OUTPUT_UNWRITABLE,
  PEERSTAGE_VERIFY_DIR_UNREADABLE: ChunkerErrorCodes.VERIFY_DIR_UNREADABLE,
  PEERSTAGE_STORE_DISK_FULL: StoreErrorCodes.DISK_FULL,
  PEERSTAGE_STORE_IO: StoreErrorCodes.IO,
  PEERSTAGE_STORE_DATA_DIR: StoreErrorCodes.DATA_DIR,
}

const err = (code: string): PeerstageError => new PeerstageError(code, 'x')

describe('error tables', () => {
  it('hold every code of every module, each in exactly one table', () => {
    const tabled = TABLES.flatMap(([module, table]) => Object.values(table).map((code) => ({ module, code })))
    expect(new Set(tabled.map((t) => t.code)).size, 'a code in two tables').toBe(tabled.length)
    const registered = errorCodes()
    expect(registered.map((e) => e.code).sort()).toEqual(tabled.map((t) => t.code).sort())
    for (const { module, code } of tabled) expect(registered.find((e) => e.code === code)?.module, code).toBe(module)
  })

  it('name every code PEERSTAGE_<MODULE>_<WHAT>; only the listed old codes are aliases', () => {
    for (const { module, code, aliases } of errorCodes()) {
      expect(code).toMatch(new RegExp(`^PEERSTAGE_${module.toUpperCase()}_[A-Z0-9]+(_[A-Z0-9]+)*$`))
      for (const alias of aliases) expect(OLD_CODES[alias], alias).toBe(code)
    }
    expect(errorCodes().flatMap((e) => e.aliases).sort()).toEqual(Object.keys(OLD_CODES).sort())
  })

  it('gives each class its exit code and transience', () => {
    const samples: Array<[code: string, cls: ErrorClass, exit: number, transient: boolean]> = [
      [CliErrorCodes.USAGE, 'usage', 2, false],
      [ChunkerErrorCodes.MANIFEST_SCHEMA, 'usage', 2, false],
      [NodeErrorCodes.BAD_ADDRESS, 'usage', 2, false],
      [StoreErrorCodes.DATA_DIR, 'usage', 2, false],
      [BandwidthErrorCodes.BAD_RATE, 'usage', 2, false],
      [TrackerErrorCodes.BAD_CONFIG, 'usage', 2, false],
      [ChunkerErrorCodes.MANIFEST_UNTRUSTED, 'refused', 2, false],
      [TrackerErrorCodes.UNAUTHORIZED, 'refused', 2, false],
      [TrackerErrorCodes.UNTRUSTED_PACKAGE, 'refused', 2, false],
      [NodeErrorCodes.MANIFEST_MISMATCH, 'refused', 2, false],
      [TrackerErrorCodes.UNREACHABLE, 'transient', 1, true],
      [TrackerErrorCodes.STORE_FAILED, 'transient', 1, true],
      [NodeErrorCodes.DIAL_FAILED, 'transient', 1, true],
      [NodeErrorCodes.NO_PEER, 'transient', 1, true],
      [ChunkerErrorCodes.PACK_SOURCE_CHANGED, 'failed', 1, false],
      [NodeErrorCodes.VERIFY_FAILED, 'failed', 1, false],
      [StoreErrorCodes.DISK_FULL, 'failed', 1, false],
      [NodeErrorCodes.SWARM_KEY_MISMATCH, 'failed', 1, false],
    ]
    for (const [code, cls, exit, transient] of samples) {
      expect(errorClassOf(err(code)), code).toBe(cls)
      expect(exitCodeOf(err(code)), code).toBe(exit)
      expect(isTransient(err(code)), code).toBe(transient)
    }
  })

  it('keeps the exit codes the CLI gave before the tables (exit 1 only for work that started)', () => {
    const exitOne = new Set<string>([ChunkerErrorCodes.PACK_SOURCE_CHANGED, ChunkerErrorCodes.PACK_OUTPUT_UNWRITABLE, NodeErrorCodes.DIAL_FAILED,
      NodeErrorCodes.SWARM_KEY_MISMATCH, NodeErrorCodes.SOURCE_MISMATCH, NodeErrorCodes.NO_PEER, NodeErrorCodes.VERIFY_FAILED,
      StoreErrorCodes.DISK_FULL, StoreErrorCodes.IO, TrackerErrorCodes.UNREACHABLE, TrackerErrorCodes.STORE_FAILED, TrackerErrorCodes.STORE_UNAVAILABLE,
      // Never reach a CLI: a take() aborted inside a swarm; an HTTP 500 reaches the client as UNREACHABLE.
      BandwidthErrorCodes.ABORTED, TrackerErrorCodes.INTERNAL,
      // New since the tables: too many requests (429) is transient, as a retry later passes.
      TrackerErrorCodes.RATE_LIMITED])
    for (const { code } of errorCodes()) expect(exitCodeOf(err(code)), code).toBe(exitOne.has(code) ? 1 : 2)
  })

  it('decides nothing by prefix: a tracker code is transient only when its table says so', () => {
    expect(isTransient(err(TrackerErrorCodes.UNAUTHORIZED))).toBe(false)
    expect(isTransient(err(TrackerErrorCodes.NOT_FOUND))).toBe(false)
    expect(isTransient(err('PEERSTAGE_TRACKER_SOMETHING_NEW'))).toBe(false)
    expect(isTransient(new Error(TrackerErrorCodes.UNREACHABLE))).toBe(false)
  })

  it('gives a code no table declares exit 2 (as before tables), and anything else exit 1', () => {
    expect(errorClassOf(err('PEERSTAGE_TRACKER_FROM_A_NEWER_TRACKER'))).toBeUndefined()
    expect(exitCodeOf(err('PEERSTAGE_TRACKER_FROM_A_NEWER_TRACKER'))).toBe(2)
    expect(exitCodeOf(new Error('bug'))).toBe(1)
  })

  it('still matches an old code as an alias, and names it in the JSON', () => {
    const e = new PeerstageError(ChunkerErrorCodes.MANIFEST_SCHEMA, 'manifest.pieces is missing')
    expect(isPeerstageError(e, 'PEERSTAGE_MANIFEST_SCHEMA')).toBe(true)
    expect(isPeerstageError(e, ChunkerErrorCodes.MANIFEST_SCHEMA)).toBe(true)
    expect(isPeerstageError(e, 'PEERSTAGE_MANIFEST_FORMAT')).toBe(false)
    expect(e.toJSON()).toEqual({ name: 'PeerstageError', code: 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', aliases: ['PEERSTAGE_MANIFEST_SCHEMA'], message: 'manifest.pieces is missing' })
    expect(err(NodeErrorCodes.NO_PEER).toJSON()).not.toHaveProperty('aliases')
    // An older tracker's answer carries the old code: read as the code it became.
    const old = new PeerstageError('PEERSTAGE_STORE_IO', 'x')
    expect(old.code).toBe(StoreErrorCodes.IO)
    expect(currentCode('PEERSTAGE_KEY_EXISTS')).toBe(ChunkerErrorCodes.KEY_EXISTS)
    expect(exitCodeOf(old)).toBe(1)
  })

  it('refuses a code or alias given a second meaning', () => {
    expect(() => defineErrorCodes('test', { X: { code: TrackerErrorCodes.UNREACHABLE, class: 'failed' } })).toThrow(TypeError)
    expect(() => defineErrorCodes('test', { X: { code: 'PEERSTAGE_TEST_X', class: 'usage', aliases: [NodeErrorCodes.NO_PEER] } })).toThrow(TypeError)
    expect(() => defineErrorCodes('test', { X: { code: 'PEERSTAGE_TEST_Y', class: 'usage', aliases: ['PEERSTAGE_STORE_IO'] } })).toThrow(TypeError)
    // The same table loaded twice (a module evaluated again) is the same meaning.
    expect(defineErrorCodes('tracker', { UNREACHABLE: { code: TrackerErrorCodes.UNREACHABLE, class: 'transient' } })).toEqual({ UNREACHABLE: TrackerErrorCodes.UNREACHABLE })
  })
})

describe('the CLI by error class', () => {
  afterEach(() => { vi.restoreAllMocks() })

  const failing = (e: Error): Command => ({ name: 'demo', help: 'demo', options: {}, positionals: 0, run: () => Promise.reject(e) })

  it('exits 2 for refused, 1 for transient, and --json carries the old code', async () => {
    let out = ''
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => { out += String(chunk); return true })
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true)
    expect(await runCommand(failing(err(TrackerErrorCodes.UNAUTHORIZED)), [])).toBe(2)
    expect(await runCommand(failing(err(TrackerErrorCodes.UNREACHABLE)), [])).toBe(1)
    expect(await runCommand(failing(err(StoreErrorCodes.DISK_FULL)), ['--json'])).toBe(1)
    expect(JSON.parse(out).error).toMatchObject({ code: 'PEERSTAGE_NODE_STORE_DISK_FULL', aliases: ['PEERSTAGE_STORE_DISK_FULL'] })
  })
})

describe('source', () => {
  /** Every quoted whole code in the modules' source is a declared code or alias: none invented in place. */
  it('names no code that no table declares', () => {
    const root = new URL('../../', import.meta.url).pathname
    const known = new Set(errorCodes().flatMap((e) => [e.code, ...e.aliases]))
    const files = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true })
      .flatMap((d) => d.isDirectory() ? files(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [])
    for (const file of ['bin', 'common', 'chunker', 'node', 'tracker', 'bandwidth'].flatMap(files)) {
      // `env: 'PEERSTAGE_TOKEN'` names an environment variable, not a code.
      for (const [, env, code] of readFileSync(join(root, file), 'utf8').matchAll(/(env: )?['"`](PEERSTAGE_[A-Z0-9_]*[A-Z0-9])['"`]/g)) {
        if (env === undefined) expect(known.has(code!), `${file}: ${code}`).toBe(true)
      }
    }
  })
})
