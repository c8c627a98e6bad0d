import { createPublicKey } from 'node:crypto'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { publisherOf } from '../../chunker/index.ts'
import { Stager } from '../../node/index.ts'
import { TrackerClient } from '../../tracker/index.ts'
import { dpSeedingSample, startNode, untilComplete } from '../helpers/nodes.ts'
import { testKey } from '../helpers/packages.ts'
import { pseudoRandomBytes } from '../helpers/tmp.ts'

/** A tracker client that reaches nothing: port 9 on loopback answers no one. */
const unreachable = (): TrackerClient => new TrackerClient({ url: 'http://127.0.0.1:9', timeoutMs: 2000 })

/** A DP on 127.0.10.1 seeding a sample package, and a node on 127.0.3.1 that already holds its manifest. */
async function world() {
  const { dir, key, packed: signed, dp } = await dpSeedingSample()
  const node = await startNode(join(dir, 'node'), key, '127.0.3.1')
  return { dir, signed, dp, node, publisher: publisherOf(createPublicKey(signed.key)) }
}

describe('Stager: the pre-staging steps a client and a replicating DP share', () => {
  it('says transient when the tracker cannot give the manifest, with a retry time', async () => {
    const { dir, node, signed } = await world()
    const stager = new Stager({ node, tracker: unreachable(), dataDir: join(dir, 'node'), now: () => 1000 })
    const start = await stager.begin(signed.packageId)
    expect(start).toMatchObject({ kind: 'transient', retryAt: 1000 })
    expect(start.kind === 'transient' && start.reason).toMatch(/^cannot get the manifest yet: /)
  })

  it('refuses a package of a publisher it does not trust: retrying would not help', async () => {
    const { dir, node, signed } = await world()
    await node.want(signed, join(dir, 'node/staging', signed.packageId)) // the manifest is in the store
    const stranger = publisherOf(createPublicKey(testKey()))
    const start = await new Stager({ node, tracker: unreachable(), dataDir: join(dir, 'node'), trusted: [stranger] }).begin(signed.packageId)
    expect(start.kind).toBe('refused')
    expect(start.kind === 'refused' && start.reason).toMatch(/^package refused: /)
  })

  it('says no-space when the role cannot make room, with the sizes and a retry time', async () => {
    const { dir, node, signed, publisher } = await world()
    await node.want(signed, join(dir, 'node/staging', signed.packageId))
    const asked: number[] = []
    const stager = new Stager({ node, tracker: unreachable(), dataDir: join(dir, 'node'), trusted: [publisher], now: () => 5000, retryMs: 60_000, makeRoom: async (need) => { asked.push(need); return false } })
    const start = await stager.begin(signed.packageId)
    expect(asked).toEqual([signed.totalBytes])
    expect(start).toMatchObject({ kind: 'no-space', retryAt: 65_000, pieces: signed.manifest.pieces.length })
    expect(start.kind === 'no-space' && start.reason).toMatch(/^not enough disk space: needs .* free$/)
  })

  it('fetches, then finishes: done into packages/ID; a piece bad on disk comes back as repairing and is fetched again', async () => {
    const { dir, node, dp, signed, publisher } = await world()
    const dataDir = join(dir, 'node')
    await node.want(signed, join(dataDir, 'staging', signed.packageId))
    const stager = new Stager({ node, tracker: unreachable(), dataDir, trusted: [publisher] })
    const start = await stager.begin(signed.packageId)
    if (start.kind !== 'fetching') throw new Error(`expected fetching, got ${start.kind}`)
    await node.connect(signed.packageId, dp.addresses[0]!)
    await untilComplete(node, signed.packageId)

    // A byte changed on disk after the download: finish finds it and hands the piece back to the swarm.
    writeFileSync(join(start.swarm.pkg.root, 'sources/install.esd'), pseudoRandomBytes(2_000_000, 6))
    const bad = await stager.finish(start.swarm)
    expect(bad).toMatchObject({ kind: 'repairing' })
    expect(bad.kind === 'repairing' && bad.badPieces).toBeGreaterThan(0)
    expect(start.swarm.pkg.complete).toBe(false)
    if (start.swarm.peerCount === 0) await node.connect(signed.packageId, dp.addresses[0]!) // two seeds part once both are whole
    await untilComplete(node, signed.packageId)

    const end = await stager.finish(start.swarm)
    expect(end).toEqual({ kind: 'done', target: join(dataDir, 'packages', signed.packageId) })
    expect(existsSync(join(dataDir, 'packages', signed.packageId, 'sources/install.esd'))).toBe(true)
    expect(existsSync(join(dataDir, 'staging', signed.packageId))).toBe(false)
  })
})
