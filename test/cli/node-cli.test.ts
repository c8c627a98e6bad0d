import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { Store } from '../../node/index.ts'
import { readManifest, verifyDirectory } from '../../chunker/index.ts'
import { nodeLabel } from '../../bin/node-commands.ts'
import { cliDpWithSamplePackage, freePort, peerstage, piecesVerified, sameTree, spawnCli } from '../helpers/cli.ts'
import { canMountTmpfs } from '../helpers/files.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** keys, a 12 MB package, a swarm key, and a DP seeding it on 127.0.10.1. */
const setup = () => cliDpWithSamplePackage('127.0.10.1', (stop) => daemons.push(stop))


describe('which node a dp or client line comes from', () => {
  const peerId = '12D3KooWEE8QJEpzCqU1XwJpDqP3UKzqq7D8atMA837dyYQSL619'
  it('names the address it dials from, else the one it listens on, and the end of its peer id', () => {
    const addresses = [`/ip4/127.0.1.2/tcp/4001/p2p/${peerId}`]
    expect(nodeLabel({ peerId, addresses }, '127.0.1.9')).toBe(`127.0.1.9 …${peerId.slice(-8)}`)
    expect(nodeLabel({ peerId, addresses }, undefined)).toBe(`127.0.1.2 …${peerId.slice(-8)}`)
    expect(nodeLabel({ peerId, addresses: [] }, undefined)).toBe(`…${peerId.slice(-8)}`)
  })
})

describe('peerstage dp and fetch (real processes)', () => {
  it('fetch downloads, verifies and prints the --json summary; a second run has nothing to do', async () => {
    const { dir, src, manifest, dpAddress } = await setup()
    const out = join(dir, 'out')
    const args = ['fetch', manifest, '--out', out, '--peer', dpAddress, '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'), '--dial-from', '127.0.1.1', '--json']
    const r = await peerstage(args)
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ ok: true, name: 'win11', version: '1', reusedBytes: 0, resumedBytes: 0, publisherChecked: true })
    expect(j.downloadedBytes).toBe(j.bytes)
    expect(r.stderr).not.toContain('publisher was not checked')
    const paths = readManifest(manifest).manifest.files.map((f) => f.path)
    expect(sameTree(src, out, paths)).toBe(true)
    const again = JSON.parse((await peerstage(args)).stdout)
    expect(again).toMatchObject({ ok: true, downloadedBytes: 0, resumedBytes: j.bytes })
  })

  it('fetch --bulk-port off keeps the wire on libp2p and still delivers; a port out of range is a usage error; without --trust it says the publisher was not checked', async () => {
    const { dir, src, manifest, dpAddress } = await setup()
    const args = (out: string, bulk: string) => ['fetch', manifest, '--out', join(dir, out), '--peer', dpAddress, '--swarm-key', join(dir, 'swarm.key'), '--dial-from', '127.0.1.1', '--bulk-port', bulk, '--json']
    const r = await peerstage(args('out', 'off'))
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, publisherChecked: false })
    expect(r.stderr).toBe('peerstage fetch: the publisher was not checked (no --trust): anyone could have signed this manifest; give --trust PUBFILE, or --require-trust to refuse\n')
    // --require-trust without --trust: refused before anything is fetched or written.
    const refused = await peerstage([...args('refused', 'off'), '--require-trust'])
    expect(refused.code).toBe(2)
    expect(JSON.parse(refused.stdout).error.code).toBe('PEERSTAGE_CLI_TRUST_REQUIRED')
    expect(existsSync(join(dir, 'refused'))).toBe(false)
    expect(sameTree(src, join(dir, 'out'), readManifest(manifest).manifest.files.map((f) => f.path))).toBe(true)
    const bad = await peerstage(args('bad', '70000'))
    expect(bad.code).toBe(2)
    expect(JSON.parse(bad.stdout).error.message).toContain("--bulk-port takes a TCP port (0-65535) or 'off', got '70000'")
  })

  it('resumes after being killed with SIGKILL mid-download, and ends identical', async () => {
    const { dir, src, manifest, dpAddress } = await setup()
    const out = join(dir, 'out')
    const base = ['fetch', manifest, '--out', out, '--peer', dpAddress, '--swarm-key', join(dir, 'swarm.key'), '--dial-from', '127.0.1.2']
    const port = await freePort('127.0.1.2')
    const slow = spawnCli([...base, '--download-limit', '3MB/s', '--metrics-listen', `127.0.1.2:${port}`])
    const exited = new Promise((r) => slow.once('exit', r))
    // Kill once a few pieces are in and a flush (≤ 250 ms) has passed, however slow the machine.
    for (let i = 0; i < 300 && await piecesVerified(`http://127.0.1.2:${port}/metrics`) < 3; i++) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 600))
    slow.kill('SIGKILL')
    await exited
    const r = await peerstage([...base, '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j.resumedBytes).toBeGreaterThan(0) // pieces saved before the kill were kept
    expect(j.resumedBytes).toBeLessThan(j.bytes)
    expect(j.downloadedBytes + j.resumedBytes).toBe(j.bytes)
    expect(sameTree(src, out, readManifest(manifest).manifest.files.map((f) => f.path))).toBe(true)
  })

  it('fails clearly with a swarm key the DP does not have', async () => {
    const { dir, manifest, dpAddress } = await setup()
    expect((await peerstage(['swarm-key', '--out', join(dir, 'other.key')])).code).toBe(0)
    const r = await peerstage(['fetch', manifest, '--out', join(dir, 'out'), '--peer', dpAddress, '--swarm-key', join(dir, 'other.key')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^peerstage fetch: no peer could be reached: .*different swarm keys/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
  })

  const canMount = canMountTmpfs()

  it.skipIf(!canMount)('stops with a clear error on a full disk, and marks no piece that is not on disk', async () => {
    const { dir, manifest, dpAddress } = await setup()
    const out = join(dir, 'out')
    const data = join(dir, 'client-data')
    // Downloads are staged under DATA/staging: that is where the disk fills.
    const small = join(data, 'staging')
    mkdirSync(small, { recursive: true })
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', small])
    try {
      const r = await peerstage(['fetch', manifest, '--out', out, '--data', data, '--peer', dpAddress, '--swarm-key', join(dir, 'swarm.key'), '--json'])
      expect(r.code).toBe(1)
      expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'PEERSTAGE_NODE_STORE_DISK_FULL', message: expect.stringMatching(/disk is full/) })
      // Every piece the store calls present really is on disk and intact.
      const signed = readManifest(manifest)
      const store = await Store.open(join(data, 'db'))
      try {
        const pkg = (await store.getPackage(signed.packageId))!
        expect(pkg.root).toBe(join(small, signed.packageId))
        const present = Array.from({ length: pkg.pieceCount }, (_, i) => i).filter((i) => pkg.have.get(i))
        expect(present.length).toBeGreaterThan(0)
        expect(present.length).toBeLessThan(pkg.pieceCount)
        for (const i of present) {
          const p = pkg.manifest.pieces[i]!
          const bytes = readFileSync(join(pkg.root, pkg.manifest.files[p.file]!.path)).subarray(p.offset, p.offset + p.length)
          expect(pkg.badChunks(i, bytes)).toEqual([])
        }
      } finally {
        await store.close()
      }
      expect((await verifyDirectory(signed.manifest, join(small, signed.packageId))).ok).toBe(false)
    } finally {
      execFileSync('umount', ['-l', small])
    }
  })
})
