import { existsSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { verifyDirectory } from '../../chunker/index.ts'
import { materialize, stagingRoot } from '../../node/staging/index.ts'
import { newSwarmKey, startNode } from '../helpers/nodes.ts'
import { packSample, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

describe('a package is its id on a node (issue 14, defect 1)', () => {
  it('defect 1: two signed packages that share NAME@VERSION are staged and materialized apart, both verified; the readable link stays with the first', async () => {
    const dir = tempDir()
    const [a, b] = [join(dir, 'a'), join(dir, 'b')]
    writeTree(a, { 'install.wim': pseudoRandomBytes(400_000, 1), 'setup.cmd': '@echo off\r\n' })
    writeTree(b, { 'install.wim': pseudoRandomBytes(400_000, 2), 'INSTALL.SH': 'echo hi\n', 'setup.cmd': '@echo off\r\n' })
    const first = await packSample(a)
    const second = await packSample(b, first.key)
    expect(`${second.manifest.name}@${second.manifest.version}`).toBe(`${first.manifest.name}@${first.manifest.version}`)
    expect(second.packageId).not.toBe(first.packageId)

    const dataDir = join(dir, 'node')
    const node = await startNode(dataDir, newSwarmKey(dir), '127.0.1.1')
    const targets: string[] = []
    for (const [pkg, src] of [[first, a], [second, b]] as const) {
      const swarm = await node.want(pkg, stagingRoot(dataDir, pkg, undefined))
      expect(swarm.pkg.root).toBe(join(dataDir, 'staging', pkg.packageId))
      // Every piece from the source, as a download would write it.
      for (const [i, p] of pkg.manifest.pieces.entries()) await swarm.pkg.writePiece(i, readFileSync(join(src, pkg.manifest.files[p.file]!.path)).subarray(p.offset, p.offset + p.length))
      targets.push(await materialize(swarm.pkg, dataDir))
    }
    expect(targets).toEqual([join(dataDir, 'packages', first.packageId), join(dataDir, 'packages', second.packageId)])
    expect((await verifyDirectory(first.manifest, targets[0]!)).ok).toBe(true)
    expect((await verifyDirectory(second.manifest, targets[1]!)).ok).toBe(true)
    expect(existsSync(join(targets[0]!, 'INSTALL.SH'))).toBe(false) // nothing of the second leaked into the first
    expect(readlinkSync(join(dataDir, 'packages', 'win11@24H2'))).toBe(first.packageId)

    // Dropping the first takes its link; the second keeps its files.
    await node.drop(first.packageId)
    expect(existsSync(join(dataDir, 'packages', 'win11@24H2'))).toBe(false)
    expect((await verifyDirectory(second.manifest, targets[1]!)).ok).toBe(true)
  })
})
