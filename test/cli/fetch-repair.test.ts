import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readManifest } from '../../chunker/index.ts'
import { Store } from '../../node/index.ts'
import { cliDpWithSamplePackage, freePort, peerstage, piecesVerified, sameTree, spawnCli } from '../helpers/cli.ts'
import { canMountTmpfs, overwrite, setMtimeNs } from '../helpers/files.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** keys, a 12 MB package, a swarm key, and a DP seeding it on 127.0.11.1. */
async function setup() {
  const { dir, src, manifest, dpAddress } = await cliDpWithSamplePackage('127.0.11.1', (stop) => daemons.push(stop))
  const signed = readManifest(manifest)
  const fetchArgs = (out: string): string[] => ['fetch', manifest, '--out', out, '--peer', dpAddress, '--swarm-key', join(dir, 'swarm.key'), '--dial-from', '127.0.12.1']
  return { dir, src, manifest, signed, paths: signed.manifest.files.map((f) => f.path), fetchArgs }
}


describe('fetch stages, repairs and moves (issue 14, defect 5; real processes)', () => {
  it('defect 5: a killed fetch keeps its partial files under DATA/staging; the rerun re-hashes a piece changed meanwhile, fetches it again and moves whole files into --out', async () => {
    const { dir, src, signed, paths, fetchArgs } = await setup()
    const out = join(dir, 'out')
    const port = await freePort('127.0.12.1')
    const slow = spawnCli([...fetchArgs(out), '--download-limit', '3MB/s', '--metrics-listen', `127.0.12.1:${port}`])
    const exited = new Promise((r) => slow.once('exit', r))
    // Kill once a few pieces are in and a flush (≤ 250 ms) has passed, however slow the machine.
    for (let i = 0; i < 300 && await piecesVerified(`http://127.0.12.1:${port}/metrics`) < 3; i++) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 600))
    slow.kill('SIGKILL')
    await exited

    const staged = join(out, '.peerstage', 'staging', signed.packageId)
    for (const p of paths) expect(existsSync(join(out, p)), `${p} in --out before it is whole`).toBe(false)
    expect(statSync(join(staged, 'sources/install.esd')).size).toBe(12_000_000)

    // Change 18 bytes of a piece the store holds as present (pieces come in random order: any file's).
    const store = await Store.open(join(out, '.peerstage', 'db'))
    let piece: number | undefined
    try {
      const pkg = (await store.getPackage(signed.packageId))!
      piece = Array.from({ length: pkg.pieceCount }, (_, i) => i).find((i) => pkg.have.get(i) && pkg.manifest.pieces[i]!.length >= 1000)
      expect(piece, 'a piece saved as present before the kill').toBeDefined()
    } finally {
      await store.close()
    }
    const changed = signed.manifest.pieces[piece!]!
    overwrite(join(staged, signed.manifest.files[changed.file]!.path), changed.offset + 100, Buffer.alloc(18, 0xee))

    const r = await peerstage([...fetchArgs(out), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ ok: true, repairedPieces: 0 }) // found on reopen, before the download
    expect(j.resumedBytes).toBeGreaterThan(0)
    expect(j.downloadedBytes + j.resumedBytes).toBe(j.bytes)
    expect(sameTree(src, out, paths)).toBe(true)
    expect(existsSync(staged)).toBe(false)
  })

  it('defect 5: a fetch whose final verification fails fetches the bad pieces again instead of exiting 1 silently', async () => {
    const { dir, src, paths, fetchArgs } = await setup()
    const out = join(dir, 'out')
    expect((await peerstage([...fetchArgs(out), '--json'])).code).toBe(0)
    // An edit the store's cheap check cannot see (same size, mtime put back to the nanosecond).
    const file = join(out, 'sources/install.esd')
    const mtime = statSync(file, { bigint: true }).mtimeNs
    overwrite(file, 5_000_000, Buffer.alloc(18, 0xee))
    setMtimeNs(file, mtime)

    const r = await peerstage([...fetchArgs(out), '--json'])
    expect(r.code, r.stderr).toBe(0)
    const j = JSON.parse(r.stdout)
    expect(j).toMatchObject({ ok: true, repairedPieces: 1 })
    expect(j.downloadedBytes).toBeGreaterThan(0)
    expect(j.downloadedBytes).toBeLessThan(j.bytes)
    expect(sameTree(src, out, paths)).toBe(true)
  })

  const canMount = canMountTmpfs()

  it.skipIf(!canMount)('defect 5 (EXDEV): fetch into an --out on another file system copies the verified files across, leaving no partial or temporary file (skipped where mount is not permitted)', async () => {
    const { dir, src, signed, paths, fetchArgs } = await setup()
    const out = join(dir, 'out')
    mkdirSync(out)
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', out])
    try {
      const data = join(dir, 'data')
      const r = await peerstage([...fetchArgs(out), '--data', data, '--json'])
      expect(r.code, r.stderr).toBe(0)
      expect(sameTree(src, out, paths)).toBe(true)
      expect(existsSync(join(data, 'staging', signed.packageId))).toBe(false)
      const names = (d: string): string[] => readdirSync(d, { recursive: true, encoding: 'utf8' })
      expect(names(out).filter((n) => n.includes('peerstage-moving'))).toEqual([])
      // A second run finds it there, whole: nothing to fetch.
      const again = JSON.parse((await peerstage([...fetchArgs(out), '--data', data, '--json'])).stdout)
      expect(again).toMatchObject({ ok: true, downloadedBytes: 0, resumedBytes: again.bytes })
    } finally {
      execFileSync('umount', ['-l', out])
    }
  })
})
