import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { peerstage } from '../helpers/cli.ts'
import { sampleTree } from '../helpers/packages.ts'
import { tempDir } from '../helpers/tmp.ts'

describe('peerstage CLI: keygen, pack, verify, inspect, diff', () => {
  let dir: string
  let src: string
  let manifestPath: string
  let files: Record<string, Buffer>

  beforeAll(async () => {
    dir = tempDir()
    src = join(dir, 'src')
    files = sampleTree(src)
    const keys = await peerstage(['keygen', '--out', join(dir, 'keys')])
    expect(keys.code).toBe(0)
    const packed = await peerstage(['pack', 'src', '--name', 'win11', '--version', '24H2', '--key', 'keys/publisher.key', '--program', 'install=setup.cmd /unattend'], { cwd: dir })
    expect(packed.code).toBe(0)
    manifestPath = join(dir, 'win11@24H2.manifest.json')
  })

  it('describes every command in --help and COMMAND --help', async () => {
    const help = await peerstage(['--help'])
    expect(help.code).toBe(0)
    for (const cmd of ['keygen', 'pack', 'verify', 'inspect', 'diff']) {
      expect(help.stdout).toContain(cmd)
      const sub = await peerstage([cmd, '--help'])
      expect(sub.code).toBe(0)
      expect(sub.stdout).toMatch(new RegExp(`^Usage: peerstage ${cmd}`))
      expect(sub.stdout).toContain('Exit codes')
    }
    expect((await peerstage(['frobnicate'])).code).toBe(2)
  })

  it('keygen writes a 0600 private key and refuses to overwrite it', async () => {
    expect(statSync(join(dir, 'keys/publisher.key')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, 'keys/publisher.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY')
    const again = await peerstage(['keygen', '--out', join(dir, 'keys'), '--json'])
    expect(again.code).toBe(2)
    expect(JSON.parse(again.stdout).error.code).toBe('PEERSTAGE_CHUNKER_KEY_EXISTS')
  })

  it('pack writes NAME@VER.manifest.json and --json prints the documented shape', async () => {
    expect(existsSync(manifestPath)).toBe(true)
    const out = join(dir, 'again.json')
    const r = await peerstage(['pack', src, '--name', 'win11', '--version', '24H2', '--key', join(dir, 'keys/publisher.key'), '--out', out, '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ files: 5, bytes: Object.values(files).reduce((n, b) => n + b.length, 0), manifest: out })
    for (const key of ['packageId', 'chunks', 'pieces', 'seconds']) expect(j).toHaveProperty(key)
    expect(j.packageId).toBe(createHash('sha256').update(readFileSync(out, 'utf8').trimEnd()).digest('hex'))
    expect(r.stderr).toBe('') // no progress bar off a terminal
  })

  it('pack: usage errors and bad input exit 2 with one sentence', async () => {
    const noKey = await peerstage(['pack', src, '--name', 'x', '--version', '1'])
    expect(noKey.code).toBe(2)
    expect(noKey.stderr).toContain('--key is required')
    const badKey = await peerstage(['pack', src, '--name', 'x', '--version', '1', '--key', join(dir, 'keys/publisher.pub')])
    expect(badKey.code).toBe(2)
    expect(badKey.stderr).toMatch(/not a PEM private key/)
    const unknown = await peerstage(['pack', src, '--bogus'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/Unknown option '--bogus'/)
  })

  it('verify exits 0 when intact, 1 naming the bad chunk range, 2 for bad input', async () => {
    const ok = await peerstage(['verify', manifestPath, src, '--trust', join(dir, 'keys/publisher.pub')])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toMatch(/^OK win11@24H2/m)

    const wimPath = join(src, 'install.wim')
    const original = readFileSync(wimPath)
    const tampered = Buffer.from(original)
    tampered[2_000_000] ^= 1
    writeFileSync(wimPath, tampered)
    try {
      const bad = await peerstage(['verify', manifestPath, src])
      expect(bad.code).toBe(1)
      expect(bad.stdout).toMatch(/^BAD install\.wim$/m)
      expect(bad.stdout).toMatch(/chunk \d+: bytes \d+-\d+/)
      const badJson = await peerstage(['verify', manifestPath, src, '--json'])
      expect(badJson.code).toBe(1)
      const j = JSON.parse(badJson.stdout)
      expect(j.ok).toBe(false)
      const f = j.files.find((x: { path: string }) => x.path === 'install.wim')
      expect(f.badChunks).toHaveLength(1)
      expect(f.badChunks[0].offset).toBeLessThanOrEqual(2_000_000)
      expect(f.badChunks[0].offset + f.badChunks[0].length).toBeGreaterThan(2_000_000)
    } finally {
      writeFileSync(wimPath, original)
    }

    const truncated = join(dir, 'truncated.json')
    writeFileSync(truncated, readFileSync(manifestPath, 'utf8').slice(0, 300))
    const t = await peerstage(['verify', truncated, src, '--json'])
    expect(t.code).toBe(2)
    expect(JSON.parse(t.stdout).error.code).toBe('PEERSTAGE_CHUNKER_MANIFEST_TRUNCATED')
    expect((await peerstage(['verify', manifestPath])).code).toBe(2)
    expect((await peerstage(['verify', join(dir, 'nope.json'), src])).code).toBe(2)
  })

  it('verify --trust with another key exits 2: untrusted', async () => {
    expect((await peerstage(['keygen', '--out', join(dir, 'other')])).code).toBe(0)
    const r = await peerstage(['verify', manifestPath, src, '--trust', join(dir, 'other/publisher.pub')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/not a trusted publisher/)
  })

  it('verify without --trust says on stderr that the publisher was not checked; --require-trust refuses to run without one', async () => {
    const unchecked = await peerstage(['verify', manifestPath, src])
    expect(unchecked.code).toBe(0)
    expect(unchecked.stdout).toMatch(/^OK win11@24H2/m)
    expect(unchecked.stderr).toBe('peerstage verify: the publisher was not checked (no --trust): anyone could have signed this manifest; give --trust PUBFILE, or --require-trust to refuse\n')
    const uncheckedJson = await peerstage(['verify', manifestPath, src, '--json'])
    expect(JSON.parse(uncheckedJson.stdout)).toMatchObject({ ok: true, publisherChecked: false })
    expect(uncheckedJson.stderr).toMatch(/^peerstage verify: the publisher was not checked/)

    const trusted = await peerstage(['verify', manifestPath, src, '--trust', join(dir, 'keys/publisher.pub'), '--require-trust', '--json'])
    expect(trusted.code).toBe(0)
    expect(JSON.parse(trusted.stdout)).toMatchObject({ ok: true, publisherChecked: true })
    expect(trusted.stderr).toBe('')

    const refused = await peerstage(['verify', manifestPath, src, '--require-trust'])
    expect(refused.code).toBe(2)
    expect(refused.stdout).toBe('')
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^peerstage verify: --require-trust is set but no --trust PUBFILE names the publishers to accept/)])
    const refusedJson = await peerstage(['verify', manifestPath, src, '--require-trust', '--json'])
    expect(refusedJson.code).toBe(2)
    expect(JSON.parse(refusedJson.stdout).error.code).toBe('PEERSTAGE_CLI_TRUST_REQUIRED')
  })

  it('inspect --chunks --json lists every chunk as {offset, length, sha256}', async () => {
    const r = await peerstage(['inspect', manifestPath, '--chunks', '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ name: 'win11', version: '24H2', programs: [{ name: 'install', command: 'setup.cmd', args: ['/unattend'] }] })
    for (const f of j.files as Array<{ path: string, chunks: Array<{ offset: number, length: number, sha256: string }> }>) {
      const data = files[f.path]!
      expect(f.chunks.reduce((n, c) => n + c.length, 0)).toBe(data.length)
      for (const c of f.chunks) expect(c.sha256).toBe(createHash('sha256').update(data.subarray(c.offset, c.offset + c.length)).digest('hex'))
    }
    const human = await peerstage(['inspect', manifestPath])
    expect(human.stdout).toContain('program install: setup.cmd /unattend')
  })

  it('diff --json counts reused and new bytes', async () => {
    writeFileSync(join(src, 'extra.bin'), Buffer.alloc(50_000, 7))
    const v2 = join(dir, 'v2.json')
    expect((await peerstage(['pack', src, '--name', 'win11', '--version', '24H3', '--key', join(dir, 'keys/publisher.key'), '--out', v2])).code).toBe(0)
    const r = await peerstage(['diff', manifestPath, v2, '--json'])
    expect(r.code).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.fetchBytes).toBe(50_000)
    expect(j.reusedBytes).toBe(j.totalBytes - 50_000)
  })
})

describe('peerstage pack: output that cannot be written', () => {
  it('exits 1 with one sentence, leaving no partial file', async () => {
    const dir = tempDir()
    sampleTree(join(dir, 'src'))
    expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
    const out = join(dir, 'no-such-dir', 'm.json')
    const r = await peerstage(['pack', join(dir, 'src'), '--name', 'x', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', out])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^peerstage pack: cannot write the manifest to .*no-such-dir/)
    expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
    expect(existsSync(out)).toBe(false)
  })
})
