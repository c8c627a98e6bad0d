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
