import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyDirectory } from '../../chunker/index.ts'
import { newSwarmKey, startNode, untilComplete } from '../helpers/nodes.ts'
import { packSample, sampleTree, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

async function bigSample(dir: string) {
  const src = join(dir, 'src')
  sampleTree(src)
  writeTree(src, { 'sources/install.esd': pseudoRandomBytes(12_000_000, 77) })
  return { src, packed: await packSample(src) }
}

function sameFiles(a: string, b: string, paths: string[]): boolean {
  return paths.every((p) => readFileSync(join(a, p)).equals(readFileSync(join(b, p))))
}

describe('two and five nodes on loopback', () => {
  it('a client fetches a multi-file package from a DP, byte-identical and verified', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(packed, src)
    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    const out = join(dir, 'out')
    await client.want(packed, out)
    await client.connect(packed.packageId, dp.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect((await verifyDirectory(packed.manifest, out)).ok).toBe(true)
    expect(sameFiles(src, out, packed.manifest.files.map((f) => f.path))).toBe(true)
  })

  it('five nodes: four clients pull from one DP and from each other', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(packed, src)
    let dpUpload = 0
    dp.swarmOf(packed.packageId)!.on('upload', (n) => { dpUpload += n })
    const clients = await Promise.all([1, 2, 3, 4].map((h) => startNode(join(dir, `c${h}`), key, `127.0.1.${h}`)))
    for (const [i, c] of clients.entries()) await c.want(packed, join(dir, `out${i}`))
    for (const [i, c] of clients.entries()) {
      await c.connect(packed.packageId, dp.addresses[0]!)
      for (const other of clients.slice(0, i)) await c.connect(packed.packageId, other.addresses[0]!)
    }
    await Promise.all(clients.map((c) => untilComplete(c, packed.packageId)))
    for (const i of clients.keys()) expect(sameFiles(src, join(dir, `out${i}`), packed.manifest.files.map((f) => f.path))).toBe(true)
    const size = packed.totalBytes
    expect(dpUpload).toBeGreaterThanOrEqual(size) // someone had to get every byte from the DP
    expect(dpUpload).toBeLessThan(4 * size) // but not every client got everything from it
  })
})

describe('bad peers and reuse', () => {
  it('bans a peer serving corrupted data and completes from an honest one', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed } = await bigSample(dir)
    // The evil DP seeds a copy that passes its start-up check, then rots on disk.
    const evilSrc = join(dir, 'evil-src')
    const { cpSync, writeFileSync } = await import('node:fs')
    cpSync(src, evilSrc, { recursive: true })
    const evil = await startNode(join(dir, 'evil'), key, '127.0.10.66')
    await evil.seed(packed, evilSrc)
    for (const f of packed.manifest.files.filter((x) => x.size > 0)) {
      const path = join(evilSrc, f.path)
      const bytes = readFileSync(path)
      for (let i = 0; i < bytes.length; i += 4096) bytes[i] ^= 0xff
      writeFileSync(path, bytes)
    }
    const honest = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await honest.seed(packed, src)

    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    const out = join(dir, 'out')
    const swarm = await client.want(packed, out)
    const banned: string[] = []
    swarm.on('ban', (peer) => banned.push(peer))
    await client.connect(packed.packageId, evil.addresses[0]!)
    await client.connect(packed.packageId, honest.addresses[0]!)
    await untilComplete(client, packed.packageId)
    expect(banned).toEqual([evil.peerId])
    expect((await verifyDirectory(packed.manifest, out)).ok).toBe(true)
  })

  it('a second version reuses the first one\'s chunks and fetches only what changed', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const { src, packed: v1 } = await bigSample(dir)
    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(v1, src)
    const client = await startNode(join(dir, 'client'), key, '127.0.1.1')
    await client.want(v1, join(dir, 'v1'))
    await client.connect(v1.packageId, dp.addresses[0]!)
    await untilComplete(client, v1.packageId)

    // Version 2: one small file changed, one added; the 12 MB and 3 MB files unchanged.
    const src2 = join(dir, 'src2')
    const { cpSync } = await import('node:fs')
    cpSync(src, src2, { recursive: true })
    writeTree(src2, { 'setup.cmd': '@echo version 2\r\n', 'drivers/new.inf': pseudoRandomBytes(200_000, 5) })
    const { pack } = await import('../../chunker/index.ts')
    const v2 = await pack(src2, { name: 'win11', version: '24H3', privateKey: (await packSample(src)).key })
    await dp.seed(v2, src2)

    const swarm = await client.want(v2, join(dir, 'v2'))
    const reused = await client.reuseLocalChunks(swarm.pkg)
    let fetched = 0
    swarm.on('download', (n) => { fetched += n })
    await client.connect(v2.packageId, dp.addresses[0]!)
    await untilComplete(client, v2.packageId)
    expect((await verifyDirectory(v2.manifest, join(dir, 'v2'))).ok).toBe(true)
    const changed = '@echo version 2\r\n'.length + 200_000
    expect(reused + fetched).toBe(v2.totalBytes)
    expect(fetched).toBeGreaterThanOrEqual(changed)
    expect(fetched).toBeLessThanOrEqual(changed + 64 * 1024) // only the changed files' pieces crossed the wire
  })
})
