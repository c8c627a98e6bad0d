/**
 * Does a subnet get its WAN budget through the whole stack, no less and no more? A tracker,
 * a DP and two clients of one subnet that both hold a WAN lease (maxWanClients 2), in this
 * process on loopback. The budget is 12 MiB/s, then an operator's change makes it 4 MiB/s.
 * The DP's bytes to the subnet, in 100 ms bins: the worst 6 s window of each phase against
 * its budget, from 1 s after its start (the first byte, the change), and the WAN bytes
 * against the package. The pacers in series are the clients' lease buckets and the DP's
 * subnet bucket (README, "The tracker").
 */
import { generateKeyPairSync } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pack } from '../chunker/index.ts'
import { createDp, createFetcher, generateSwarmKeyFile, loadSwarmKey, type NodeService, type PackageSwarm } from '../node/index.ts'
import { createTrackerConfig, createTrackerServer, MemoryTrackerStore, Tracker, TrackerClient } from '../tracker/index.ts'
import { cachedRandomFile, windowExtremes, worst, type BenchOutcome, type BenchRow } from './common.ts'

const MIB = 2 ** 20
const BIN_MS = 100
const WINDOW_BINS = 6000 / BIN_MS
const PHASE_MS = 8000
const PACKAGE_BYTES = 128 * MIB
const BEFORE = 12 * MIB
const AFTER = 4 * MIB

/** Bytes one bin holds at `rate`. */
const perBin = (rate: number): number => (rate * BIN_MS) / 1000

export async function run(): Promise<BenchOutcome> {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-bench-lease-'))
  const stops: Array<() => Promise<unknown>> = []
  try {
    const src = join(dir, 'src')
    mkdirSync(src)
    execFileSync('sh', ['-c', `head -c ${PACKAGE_BYTES} '${cachedRandomFile('pack-2GiB.bin', 2 * 1024 ** 3)}' > '${src}/install.wim'`])
    const signed = await pack(src, { name: 'win11', version: '1', privateKey: generateKeyPairSync('ed25519').privateKey })
    generateSwarmKeyFile(join(dir, 'swarm.key'))
    const swarmKey = loadSwarmKey(join(dir, 'swarm.key'))

    const tracker = await Tracker.start(createTrackerConfig({
      adminToken: 'admin', dpToken: 'dp', announceIntervalSeconds: 1,
      sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.2.0/24'], wan: { default: `${BEFORE / MIB}MiB/s`, maxWanClients: 2 } }],
    }), { store: new MemoryTrackerStore() })
    const app = createTrackerServer(tracker)
    await app.listen({ host: '127.0.10.10', port: 0 })
    stops.push(() => tracker.stop(), () => app.close())
    const url = `http://127.0.10.10:${(app.server.address() as { port: number }).port}`

    const node = async (ip: string, role: 'dp' | 'client'): Promise<NodeService> => {
      const init = { dataDir: join(dir, ip), swarmKey, listen: [`/ip4/${ip}/tcp/0`], dialFrom: ip, tracker: { url, ...(role === 'dp' && { token: 'dp' }) } }
      const n = role === 'dp' ? await createDp({ ...init, publish: [{ signed, source: src }] }) : await createFetcher(init)
      stops.unshift(() => n.stop())
      return n
    }
    const dp = await node('127.0.10.1', 'dp')
    await dp.start()
    let t0 = 0
    const bins: number[] = []
    dp.node.swarmOf(signed.packageId)!.on('upload', (n) => {
      const now = performance.now()
      if (t0 === 0) t0 = now
      const bin = Math.floor((now - t0) / BIN_MS)
      while (bins.length <= bin) bins.push(0)
      bins[bin]! += n
    })
    const swarms: PackageSwarm[] = []
    for (const ip of ['127.0.2.1', '127.0.2.2']) {
      const c = await node(ip, 'client')
      swarms.push(await c.node.want(signed, join(dir, `out-${ip}`)))
      await c.start()
    }

    const admin = new TrackerClient({ url, token: 'admin' })
    stops.push(async () => admin.close())
    for (let i = 0; t0 === 0 && i < 500; i++) await new Promise((r) => setTimeout(r, 10))
    if (t0 === 0) throw new Error('no byte crossed the WAN in 5 s')
    await new Promise((r) => setTimeout(r, PHASE_MS - (performance.now() - t0)))
    await admin.setThrottle({ site: 'leeds' }, { default: `${AFTER / MIB}MiB/s` })
    const changeBin = Math.ceil((performance.now() - t0) / BIN_MS)
    await new Promise((r) => setTimeout(r, PHASE_MS))
    const endBin = Math.floor((performance.now() - t0) / BIN_MS)
    for (let i = 0; !swarms.every((s) => s.pkg.complete) && i < 600; i++) await new Promise((r) => setTimeout(r, 100))

    const first6 = bins.slice(0, WINDOW_BINS).reduce((a, b) => a + b, 0) / 6 / BEFORE
    const before = windowExtremes(bins.slice(1000 / BIN_MS, changeBin), WINDOW_BINS, perBin(BEFORE))
    const after = windowExtremes(bins.slice(changeBin + 1000 / BIN_MS, endBin), WINDOW_BINS, perBin(AFTER))
    const wan = bins.reduce((a, b) => a + b, 0) / PACKAGE_BYTES
    const rows: BenchRow[] = [
      { bench: 'lease-rate', metric: '2 lease holders, 12 MiB/s budget: worst 6 s', value: `${before.min.toFixed(3)}–${before.max.toFixed(3)} of the budget`, reference: '12 MiB/s', ratio: worst(before), goal: 'within 5 %', pass: Math.abs(worst(before) - 1) <= 0.05 },
      { bench: 'lease-rate', metric: 'the first 6 s from the first byte', value: `${first6.toFixed(3)} of the budget`, reference: '12 MiB/s', ratio: first6, goal: '', pass: null },
      { bench: 'lease-rate', metric: 'after a change to 4 MiB/s: worst 6 s', value: `${after.min.toFixed(3)}–${after.max.toFixed(3)} of the budget`, reference: '4 MiB/s', ratio: worst(after), goal: 'within 5 %', pass: Math.abs(worst(after) - 1) <= 0.05 },
      { bench: 'lease-rate', metric: 'WAN bytes / package', value: `${(wan * PACKAGE_BYTES / MIB).toFixed(1)} MiB`, reference: `${PACKAGE_BYTES / MIB} MiB`, ratio: wan, goal: '<= 1.05', pass: wan <= 1.05 },
    ]
    return { rows, data: { binMs: BIN_MS, changeBin, endBin, bins, before, after, first6, wan, complete: swarms.every((s) => s.pkg.complete) } }
  } finally {
    for (const stop of stops) await stop().catch(() => {})
    rmSync(dir, { recursive: true, force: true })
  }
}
