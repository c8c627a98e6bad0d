import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliPack, peerstage, startDaemon } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { CHAIN_SITES_YAML } from '../tracker/helpers.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

const WIM_BYTES = 8 * 1024 * 1024

describe('replication down hub → region → branch, and clients served nearest first (real processes)', () => {
  it('each DP ends up seeding the package; a branch client takes it from its own DP, a client of a site without a DP from the upstream DP under a lease', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(WIM_BYTES, 31), 'setup.cmd': '@echo off\r\n' })
    const manifest = await cliPack(dir, src)
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)

    writeFileSync(join(dir, 'tracker.yaml'), `listen: 127.0.10.10:0
adminToken: s3cret
dpToken: dp-s3cret
announceIntervalSeconds: 1
trust: [keys/publisher.pub]
${CHAIN_SITES_YAML}  - name: shop
    subnets: [127.0.3.0/24]
    parent: region
    wan: { maxWanClients: 1 }
`)
    const tracker = startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'])
    daemons.push(tracker.stop)
    const { url } = await tracker.ready
    const dpArgs = (ip: string): string[] => ['dp', '--data', join(dir, `dp-${ip}`), '--swarm-key', join(dir, 'swarm.key'), '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip,
      '--tracker', url, '--dp-token', 'dp-s3cret', '--trust', join(dir, 'keys/publisher.pub'), '--json']
    const hub = startDaemon([...dpArgs('127.0.10.1'), '--publish', manifest, '--source', src])
    daemons.push(hub.stop)
    await hub.ready
    for (const ip of ['127.0.1.1', '127.0.2.1']) {
      const d = startDaemon(dpArgs(ip))
      daemons.push(d.stop)
      expect((await d.ready).tracker.site).toBe(ip === '127.0.1.1' ? 'region' : 'branch')
    }

    const added = await peerstage(['package', 'add', manifest, '--tracker', url, '--token', 's3cret', '--json'])
    expect(added.code, added.stderr).toBe(0)
    const { id } = JSON.parse(added.stdout)

    let status: any
    const stateAt = (site: string): string | undefined => status.packages.find((p: any) => p.id === id)?.sites.find((s: any) => s.site === site)?.dps[0]?.state
    for (let i = 0; i < 240; i++) {
      status = JSON.parse((await peerstage(['status', '--packages', '--tracker', url, '--json'])).stdout)
      if (stateAt('region') === 'seeding' && stateAt('branch') === 'seeding') break
      await new Promise((r) => setTimeout(r, 500))
    }
    expect([stateAt('hub'), stateAt('region'), stateAt('branch')]).toEqual(['seeding', 'seeding', 'seeding'])
    // The shop must hold it too (default: everything), but has no DP.
    expect(status.packages.find((p: any) => p.id === id).sites.find((s: any) => s.site === 'shop').dps).toEqual([])
    for (const ip of ['127.0.1.1', '127.0.2.1']) {
      const verified = await peerstage(['verify', manifest, join(dir, `dp-${ip}`, 'packages', 'win11@24H2')])
      expect(verified.code, `${ip}: ${verified.stdout}`).toBe(0)
    }
    const human = await peerstage(['status', '--packages', '--tracker', url])
    expect(human.stdout).toMatch(/win11@24H2/)
    expect(human.stdout).toMatch(/shop.*no DP/)

    // Clients: one in the branch (its DP is on its subnet), one in the shop (no DP: the region's, under a lease).
    const packageBytes = async (subnet: string): Promise<{ lanBytes: number, wanBytes: number }> => {
      const sites = JSON.parse((await peerstage(['status', '--tracker', url, '--json'])).stdout).sites
      const p = sites.flatMap((s: any) => s.subnets).find((s: any) => s.subnet === subnet).packages.find((x: any) => x.packageId === id)
      return p ?? { lanBytes: 0, wanBytes: 0 }
    }
    // The branch DP's own replication counts as its subnet's WAN bytes: what the client adds is measured from here.
    const branchBefore = await packageBytes('127.0.2.0/24')
    for (const ip of ['127.0.2.2', '127.0.3.2']) {
      const fetched = await peerstage(['fetch', manifest, '--out', join(dir, `client-${ip}`), '--tracker', url, '--swarm-key', join(dir, 'swarm.key'),
        '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip, '--json'])
      expect(fetched.code, fetched.stderr).toBe(0)
    }
    const branch = await packageBytes('127.0.2.0/24')
    const shop = await packageBytes('127.0.3.0/24')
    console.log(`branch client: LAN ${branch.lanBytes - branchBefore.lanBytes} B, WAN ${branch.wanBytes - branchBefore.wanBytes} B; shop client: LAN ${shop.lanBytes} B, WAN ${shop.wanBytes} B`)
    expect(branch.wanBytes - branchBefore.wanBytes).toBe(0)
    expect(branch.lanBytes - branchBefore.lanBytes).toBeGreaterThanOrEqual(WIM_BYTES)
    expect(shop.wanBytes).toBeGreaterThanOrEqual(WIM_BYTES)
  }, 300_000)
})
