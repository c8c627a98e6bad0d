import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ChunkerErrorCodes, pack, parseManifest } from '../../chunker/index.ts'
import { findWindowsProblem, windowsCollision, windowsNameProblem, windowsPathProblem, WINDOWS_MAX_PATH } from '../../chunker/windows-names.ts'
import { peerstage } from '../helpers/cli.ts'
import { jsonOf, resigned, testKey, writeTree } from '../helpers/packages.ts'
import { tempDir } from '../helpers/tmp.ts'

describe('Windows name rules', () => {
  it('refuses reserved device names in any case, with or without an extension', () => {
    for (const name of ['CON', 'prn', 'Aux', 'nul', 'COM1', 'com9', 'LPT1', 'lpt9', 'NUL.txt', 'con.tar.gz', 'Com3.log']) {
      expect(windowsNameProblem(name), name).toMatch(/reserved device name/)
    }
    for (const name of ['CONFIG', 'console.log', 'COM0', 'COM10', 'LPT', 'nullable.c', 'auxiliary', 'xcon']) {
      expect(windowsNameProblem(name), name).toBeUndefined()
    }
  })

  it('refuses forbidden characters and control characters, naming the character', () => {
    for (const ch of ['<', '>', ':', '"', '|', '?', '*']) expect(windowsNameProblem(`a${ch}b`)).toContain(`'${ch}'`)
    expect(windowsNameProblem('tab\there')).toContain('U+0009')
    expect(windowsNameProblem('bell\u0007')).toContain('U+0007')
    expect(windowsNameProblem('ünïcødé ok.txt')).toBeUndefined()
  })

  it('refuses names ending in a dot or a space, in any segment', () => {
    expect(windowsNameProblem('readme.')).toMatch(/ends in a dot/)
    expect(windowsNameProblem('readme ')).toMatch(/ends in a space/)
    expect(windowsPathProblem('drivers./net/e1000.inf')).toMatch(/"drivers\."/)
    expect(windowsPathProblem('drivers/net /e1000.inf')).toMatch(/"net "/)
    expect(windowsPathProblem('.hidden/a.b/c')).toBeUndefined()
  })

  it('refuses paths over 260 characters unless long paths are allowed', () => {
    const atLimit = `${'d/'.repeat(100)}${'x'.repeat(WINDOWS_MAX_PATH - 200)}`
    expect(atLimit).toHaveLength(WINDOWS_MAX_PATH)
    expect(windowsPathProblem(atLimit)).toBeUndefined()
    expect(windowsPathProblem(`${atLimit}y`)).toMatch(/261 characters, over Windows' 260.*--long-paths/)
    expect(windowsPathProblem(`${atLimit}y`, { longPaths: true })).toBeUndefined()
  })

  it('finds paths that differ only in case, also through their directories', () => {
    expect(windowsCollision(['Readme.txt', 'a/b', 'README.txt'])).toEqual(['Readme.txt', 'README.txt'])
    expect(windowsCollision(['Bin/a.exe', 'bin/b.exe'])).toEqual(['Bin', 'bin'])
    expect(windowsCollision(['Tools', 'tools/x'])).toEqual(['Tools', 'tools'])
    expect(windowsCollision(['a/x', 'a/y', 'b/x'])).toBeUndefined()
    expect(findWindowsProblem(['ok.txt', 'OK.TXT'])).toEqual({ path: 'OK.TXT', rule: expect.stringMatching(/differs from "ok\.txt" only in case/) })
    expect(findWindowsProblem(['ok.txt', 'drivers/ok.inf'])).toBeUndefined()
  })
})

describe('pack refuses packages Windows cannot write', () => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['a reserved name', { 'setup.cmd': 'x', 'logs/NUL.txt': 'x' }, /"logs\/NUL\.txt".*reserved device name/],
    ['a forbidden character', { 'what?.txt': 'x' }, /"what\?\.txt".*'\?'/],
    ['a trailing dot', { 'notes.': 'x' }, /"notes\.".*ends in a dot/],
    ['a case clash', { 'Setup.cmd': 'x', 'setup.cmd': 'y' }, /differs from .* only in case/],
  ]
  for (const [what, files, message] of cases) {
    it(`refuses ${what} with PEERSTAGE_CHUNKER_WINDOWS_UNSAFE_PATH`, async () => {
      const dir = tempDir()
      writeTree(dir, files)
      const err = await pack(dir, { name: 'p', version: '1', privateKey: testKey() }).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: ChunkerErrorCodes.WINDOWS_UNSAFE_PATH })
      expect((err as Error).message).toMatch(message)
    })
  }

  it('packs a long path only with longPaths, which the manifest records and the parser reads back', async () => {
    const dir = tempDir()
    const long = `${'deep/'.repeat(60)}file.bin`
    writeTree(dir, { [long]: 'x' })
    const refused = await pack(dir, { name: 'p', version: '1', privateKey: testKey() }).catch((e: unknown) => e)
    expect(refused).toMatchObject({ code: ChunkerErrorCodes.WINDOWS_UNSAFE_PATH, details: { path: long } })

    const packed = await pack(dir, { name: 'p', version: '1', privateKey: testKey(), longPaths: true })
    expect(packed.manifest.longPaths).toBe(true)
    expect(JSON.parse(packed.canonical).longPaths).toBe(true)
    const parsed = parseManifest(packed.canonical)
    expect(parsed.manifest.longPaths).toBe(true)
    expect(parsed.packageId).toBe(packed.packageId)
  })

  it('a manifest without longPaths still parses (same id as before), and longPaths: false is refused', async () => {
    const dir = tempDir()
    writeTree(dir, { 'a.txt': 'x' })
    const key = testKey()
    const packed = await pack(dir, { name: 'p', version: '1', privateKey: key })
    expect('longPaths' in JSON.parse(packed.canonical)).toBe(false)
    const parsed = parseManifest(packed.canonical)
    expect(parsed.manifest.longPaths).toBeUndefined()
    expect(parsed.packageId).toBe(packed.packageId)

    const withFalse = resigned(jsonOf(packed), key, (m) => { m.longPaths = false })
    expect(() => parseManifest(withFalse)).toThrow(expect.objectContaining({ code: ChunkerErrorCodes.MANIFEST_SCHEMA, details: { field: 'longPaths' } }))
  })

  it('the CLI exits 2 naming the path, and --long-paths packs the long one', async () => {
    const dir = tempDir()
    expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
    writeTree(join(dir, 'bad'), { 'AUX.sys': 'x' })
    const bad = await peerstage(['pack', 'bad', '--name', 'p', '--version', '1', '--key', 'keys/publisher.key'], { cwd: dir })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/"AUX\.sys".*reserved device name/)

    writeTree(join(dir, 'long'), { [`${'x'.repeat(250)}/${'y'.repeat(20)}`]: 'x' })
    const long = await peerstage(['pack', 'long', '--name', 'p', '--version', '1', '--key', 'keys/publisher.key', '--long-paths', '--out', 'p.json'], { cwd: dir })
    expect(long.code, long.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(dir, 'p.json'), 'utf8')).longPaths).toBe(true)
  })
})
