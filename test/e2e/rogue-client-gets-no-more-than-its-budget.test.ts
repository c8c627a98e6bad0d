import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { MAX_BLOCK_BYTES } from '../../node/wire/index.ts'
import { cliPack, peerstage } from '../helpers/cli.ts'
import { countersDelta, createTopology, DC_HOST, netnsSkipReason, payloadBytes, startProcess, type PeerProcess, type Topology } from '../helpers/netns.ts'
import { tempDir } from '../helpers/tmp.ts'

const BIN = process.env.PEERSTAGE_BIN ?? fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))
const MIB = 2 ** 20
/**
 * The branch's WAN budget, as the tracker publishes it: low enough that two unpaced fetches
 * exceed it even on a loaded 2-core machine (unpaced, they pulled 1.3–2 MiB/s there with the
 * process starts counted in).
 */
const BUDGET_BYTES_PER_SEC = 1 * MIB
/** The branch's downlink: 100× the budget, so only the DP's pacing can hold the rogues to it. */
const DOWNLINK_BITS_PER_SEC = 800e6
/** More than the rogues could pull at the budget in the window, so they are still pulling at its end. */
const PACKAGE_BYTES = 32 * MIB
/** How long the rogues pull once their first bytes crossed. */
const WINDOW_MS = 8000
/**
 * What may cross beyond budget × time: the DP's bucket toward the subnet starts full
 * (4 blocks, node/tracker/wan-limits.ts) and one more block may be taken as the window
 * opens; the wire's own framing (BitTorrent piece headers, yamux and noise frames: under
 * 1 % of a 128 KiB block, counted as 2 %) is not paced.
 */
const BURST_BYTES = 5 * MAX_BLOCK_BYTES
const FRAMING = 1.02

const skip = netnsSkipReason('the rogue-client netns test')

describe('a client that ignores its lease', () => {
  let topo: Topology | undefined
  const procs: PeerProcess[] = []
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop(2000)))
    topo?.destroy()
  })

  it.skipIf(skip !== undefined)('gets no more than its subnet\'s budget from the DP, counted on the branch\'s downlink by tc', async () => {
    topo = createTopology({ branches: 1, clientsPerBranch: 2, downlinkBitsPerSec: DOWNLINK_BITS_PER_SEC })
    const branch = topo.branches[0]!
    const dir = tempDir()
    const src = join(dir, 'src')
    mkdirSync(src)
    writeFileSync(join(src, 'install.wim'), randomBytes(PACKAGE_BYTES))
    const manifest = await cliPack(dir, src)
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
    writeFileSync(join(dir, 'tracker.yaml'), [
      `listen: ${DC_HOST}:7070`, 'adminToken: admin', 'dpToken: dp', 'trust: [keys/publisher.pub]',
      'sites:', `  - { name: dc, subnets: ['10.77.0.0/24'] }`,
      `  - { name: branch, subnets: ['${branch.subnet}'], wan: { default: '${BUDGET_BYTES_PER_SEC / MIB}MiB/s' } }`,
    ].join('\n') + '\n')
    const node = process.execPath
    const inDc = topo.prefix(topo.dcNs)
    const tracker = startProcess([node, BIN, 'tracker', '--config', join(dir, 'tracker.yaml'), '--data', join(dir, 'tracker'), '--json'], { prefix: inDc, name: 'tracker' })
    procs.push(tracker)
    const { url } = JSON.parse(await tracker.line()) as { url: string }
    const dp = startProcess([node, BIN, 'dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', `/ip4/${DC_HOST}/tcp/7001`, '--dial-from', DC_HOST,
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp', '--json'], { prefix: inDc, name: 'dp' })
    procs.push(dp)
    // Printed once its first announce is answered: the budgets came with it.
    const { peerId, tracker: placed } = JSON.parse(await dp.line()) as { peerId: string, tracker: { site: string } }
    expect(placed.site).toBe('dc')
    const dpAddress = `/ip4/${DC_HOST}/tcp/7001/p2p/${peerId}`

    // Both hosts of the branch pull straight from the DP: no tracker, no lease.
    const before = await topo.counters()
    const openedAt = Date.now()
    const rogues = branch.clients.map((ip) => startProcess([node, BIN, 'fetch', manifest, '--out', join(dir, `rogue-${ip}`), '--swarm-key', join(dir, 'swarm.key'),
      '--trust', join(dir, 'keys/publisher.pub'), '--peer', dpAddress, '--listen', `/ip4/${ip}/tcp/7000`, '--dial-from', ip, '--json'], { prefix: topo!.prefix(branch.ns), name: `rogue ${ip}` }))
    procs.push(...rogues)
    // The window runs from before they started (every byte they got is in it); it closes WINDOW_MS after their first bytes crossed.
    const crossed = async (): Promise<number> => payloadBytes(countersDelta(await topo!.counters(), before).down[0]!)
    for (let i = 0; i < 120 && await crossed() === 0; i++) await new Promise((r) => setTimeout(r, 250))
    const pullingAt = Date.now()
    await new Promise((r) => setTimeout(r, WINDOW_MS))
    const wan = await crossed()
    const elapsedMs = Date.now() - openedAt
    const allowed = BUDGET_BYTES_PER_SEC * (elapsedMs / 1000) * FRAMING + BURST_BYTES
    console.log(`rogues pulled ${(wan / MIB).toFixed(2)} MiB across the branch's WAN in ${(elapsedMs / 1000).toFixed(2)} s (${((Date.now() - pullingAt) / 1000).toFixed(2)} s since the first bytes): ${(wan / MIB / (elapsedMs / 1000)).toFixed(2)} MiB/s; budget ${BUDGET_BYTES_PER_SEC / MIB} MiB/s, allowed ${(allowed / MIB).toFixed(2)} MiB`)
    // They did pull (the pacing, not a failure, holds them), and no more than the budget.
    expect(wan).toBeGreaterThan(MIB)
    expect(wan).toBeLessThanOrEqual(allowed)
  }, 120_000)
})
