import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readManifest } from '../../chunker/index.ts'
import { buildBinary } from '../../scripts/build-binary.ts'
import { sameTree } from '../helpers/cli.ts'
import { sampleTree, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

// The binary is built into a directory of its own and run from elsewhere, with no Node on
// PATH and no node_modules anywhere above it: what it needs, it carries.
const outdir = mkdtempSync(join(tmpdir(), 'peerstage-binary-'))
const nativeDir = join(outdir, 'native')
let binary = ''
const children: ChildProcess[] = []
// No Node on PATH; but a faked clock (faketime's LD_PRELOAD and FAKETIME*) stays, so the
// binaries keep the test's time, from which the deployment's times are built.
const clockEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k === 'LD_PRELOAD' || k.startsWith('FAKETIME')))
const env = { ...clockEnv, PATH: '/usr/bin:/bin', PEERSTAGE_NATIVE_DIR: nativeDir, PEERSTAGE_LOG_LEVEL: 'error' }

beforeAll(async () => {
  binary = (await buildBinary({ outdir })).file
}, 180_000)
afterAll(async () => {
  await Promise.all(children.map((child) => new Promise((done) => {
    if (child.exitCode !== null || child.signalCode !== null) return done(undefined)
    child.once('exit', done)
    child.kill('SIGTERM')
  })))
  rmSync(outdir, { recursive: true, force: true })
})

function run(args: string[], cwd = outdir): Promise<{ code: number, stdout: string, stderr: string }> {
  return new Promise((resolve) => {
    execFile(binary, args, { cwd, env, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

/** A long-running command's first line of JSON on stdout. */
function daemon(args: string[]): Promise<Record<string, any>> {
  const child = spawn(binary, args, { cwd: outdir, env, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      if (out.includes('\n')) resolve(JSON.parse(out.slice(0, out.indexOf('\n'))) as Record<string, any>)
    })
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${err}`)))
  })
}

describe('npm run build:binary: the single executable', () => {
  it('is one executable file that prints --help and --version', async () => {
    expect(statSync(binary).mode & 0o111).not.toBe(0)
    const help = await run(['--help'])
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^ {2}pack {2,}/m)
    expect(help.stderr).toBe('') // no experimental-feature warning either
    const version = await run(['--version'])
    expect(version.stdout.trim()).toBe(`peerstage ${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version} (node ${process.version})`) // the Node inside is the one that built it
  })

  it('packs and verifies real files on its hashing threads, and refuses a changed byte', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    sampleTree(src)
    writeTree(src, { 'sources/install.esd': pseudoRandomBytes(6_000_000, 5) })
    const manifest = join(dir, 'pkg.json')
    for (const args of [
      ['keygen', '--out', join(dir, 'keys')],
      ['pack', src, '--name', 'win11', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest],
      ['verify', manifest, src, '--trust', join(dir, 'keys/publisher.pub')],
    ]) {
      const r = await run(args, dir)
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0)
    }
    expect(readManifest(manifest).manifest.files.map((f) => f.path)).toContain('sources/install.esd')

    const esd = join(src, 'sources/install.esd')
    const bytes = readFileSync(esd)
    bytes[3_000_000] ^= 1
    writeFileSync(esd, bytes)
    const bad = await run(['verify', manifest, src, '--trust', join(dir, 'keys/publisher.pub'), '--json'], dir)
    expect(bad.code).not.toBe(0)
    expect(bad.stdout).toContain('sources/install.esd')
  }, 60_000)

  it('seeds from its native store and fetches over the swarm, the addon written once to its private directory', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    sampleTree(src)
    const manifest = join(dir, 'pkg.json')
    for (const args of [
      ['keygen', '--out', join(dir, 'keys')],
      ['pack', src, '--name', 'win11', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest],
      ['swarm-key', '--out', join(dir, 'swarm.key')],
    ]) expect((await run(args, dir)).code).toBe(0)
    const dp = await daemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.8/tcp/0', '--publish', manifest, '--source', src, '--json'])
    const out = join(dir, 'out')
    const r = await run(['fetch', manifest, '--out', out, '--peer', dp.addresses[0] as string, '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'), '--dial-from', '127.0.8.1', '--json'], dir)
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, name: 'win11' })
    expect(sameTree(src, out, readManifest(manifest).manifest.files.map((f) => f.path))).toBe(true)
    const dirMode = statSync(nativeDir).mode & 0o777
    expect(dirMode).toBe(0o700)
  }, 90_000)

  it('refuses to load its addon from a directory others may write', async () => {
    const dir = tempDir()
    expect((await run(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
    const shared = join(dir, 'shared')
    mkdirSync(shared)
    chmodSync(shared, 0o777)
    const r = await new Promise<{ code: number, stderr: string }>((resolve) => {
      execFile(binary, ['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.8/tcp/0'],
        { env: { ...env, PEERSTAGE_NATIVE_DIR: shared }, timeout: 30_000 }, (err, _stdout, stderr) => {
          resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stderr })
        })
    })
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain(`${shared} is not a directory that only this user may write`)
    expect(readdirSync(shared)).toEqual([])
  }, 40_000)

  it('runs a deployment\'s program as a client, its supervisor started as the binary itself (there is no `node -e`)', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(200_000, 9), 'install.sh': '#!/bin/sh\necho "installing from $PWD"\nexit 0\n' })
    chmodSync(join(src, 'install.sh'), 0o755)
    const manifest = join(dir, 'pkg.json')
    for (const args of [
      ['keygen', '--out', join(dir, 'keys')],
      ['pack', src, '--name', 'win11', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--program', 'install=install.sh', '--out', manifest],
      ['swarm-key', '--out', join(dir, 'swarm.key')],
    ]) expect((await run(args, dir)).code).toBe(0)
    writeFileSync(join(dir, 'tracker.yaml'), `listen: 127.0.10.10:0
adminToken: adm1n
dpToken: dp-t0ken
announceIntervalSeconds: 1
trust: [${join(dir, 'keys/publisher.pub')}]
sites:
  - name: hq
    subnets: [127.0.10.0/24]
  - name: leeds
    parent: hq
    subnets: [127.0.1.0/24]
`)
    const { url } = await daemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--data', join(dir, 'tracker'), '--json'])
    await daemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, '--tracker', url as string, '--dp-token', 'dp-t0ken', '--json'])
    const now = Date.now()
    const created = await run(['deploy', 'create', '--tracker', url as string, '--token', 'adm1n', '--manifest', manifest, '--program', 'install', '--target', 'site:leeds',
      '--available', new Date(now).toISOString(), '--mandatory', new Date(now + 2000).toISOString(), '--json'])
    expect(created.code, created.stderr).toBe(0)
    const id = JSON.parse(created.stdout).id as string
    await daemon(['client', '--tracker', url as string, '--data', join(dir, 'client'), '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'),
      '--listen', '/ip4/127.0.1.5/tcp/0', '--dial-from', '127.0.1.5', '--json'])
    const counts = async (): Promise<Record<string, number>> => JSON.parse((await run(['deploy', 'show', id, '--tracker', url as string, '--json'])).stdout).status.counts
    await expect.poll(counts, { timeout: 45_000, interval: 500 }).toEqual({ succeeded: 1 })
  }, 90_000)
})
