import { readFileSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readManifest } from '../../chunker/index.ts'
import { cliPack, peerstage, startDaemon } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

function get(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let t = ''
      res.on('data', (d: Buffer) => { t += d.toString() })
      res.on('end', () => resolve(t))
    }).on('error', reject).end()
  })
}

const PACKAGE_BYTES = 32 * 1024 * 1024
const SUBNETS = [1, 2]
const HOSTS = [1, 2, 3]

describe('tracker + DP + two subnets of three clients (real processes)', () => {
  it('each subnet pulls the package across the WAN about once; every client ends byte-identical', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(PACKAGE_BYTES - 1_000_000, 5), 'drivers/pack.cab': pseudoRandomBytes(1_000_000, 6) })
    const manifest = await cliPack(dir, src, { version: '1', out: 'pkg.json' })
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)

    writeFileSync(join(dir, 'tracker.yaml'), `listen: 127.0.10.10:0
adminToken: s3cret
dpToken: dp-s3cret
announceIntervalSeconds: 1
sites:
  - name: dc
    subnets: [127.0.10.0/24]
  - name: leeds
    subnets: [127.0.1.0/24]
    wan: { maxWanClients: 1 }
  - name: york
    subnets: [127.0.2.0/24]
    wan: { maxWanClients: 1 }
`)
    const tracker = startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'])
    daemons.push(tracker.stop)
    const { url } = await tracker.ready

    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp-s3cret', '--metrics-listen', '127.0.10.1:0', '--json'])
    daemons.push(dp.stop)
    const dpInfo = await dp.ready
    expect(dpInfo.tracker).toEqual({ subnet: '127.0.10.0/24', site: 'dc' })

    const clients = SUBNETS.flatMap((s) => HOSTS.map((h) => {
      const ip = `127.0.${s}.${h}`
      const c = startDaemon(['fetch', manifest, '--out', join(dir, `client-${ip}`), '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'),
        '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip, '--tracker', url, '--seed-for', '120', '--json'])
      daemons.push(c.stop)
      return { ip, ...c }
    }))
    // fetch prints its summary once complete and verified, then keeps seeding.
    const summaries = await Promise.all(clients.map(async (c) => ({ ip: c.ip, ...(await c.ready) })))
    for (const s of summaries) expect(s, s.ip).toMatchObject({ ok: true, bytes: PACKAGE_BYTES })

    const files = readManifest(manifest).manifest.files.map((f) => f.path)
    for (const c of clients) {
      for (const f of files) expect(readFileSync(join(dir, `client-${c.ip}`, f)).equals(readFileSync(join(src, f))), `${c.ip} ${f}`).toBe(true)
    }

    // WAN bytes as the DP measured them, per destination subnet.
    const metrics = await get(dpInfo.metrics)
    for (const s of SUBNETS) {
      const m = new RegExp(`peerstage_node_upload_subnet_bytes_total\\{subnet="127\\.0\\.${s}\\.0/24"\\} (\\d+)`).exec(metrics)
      const wan = Number(m?.[1] ?? 0)
      console.log(`subnet 127.0.${s}.0/24: ${wan} WAN bytes = ${(wan / PACKAGE_BYTES).toFixed(3)} x package`)
      expect(wan).toBeGreaterThan(0)
      expect(wan / PACKAGE_BYTES).toBeLessThanOrEqual(1.25)
    }

    // The tracker's status agrees, once every client's last announce (sent on completion) is in.
    const subnetOf = (status: any, name: string): any => status.sites.find((x: any) => x.name === name).subnets[0]
    let status: any
    for (let i = 0; i < 20; i++) {
      status = JSON.parse((await peerstage(['status', '--tracker', url, '--json'])).stdout)
      const received = (name: string): number => subnetOf(status, name).packages.reduce((n: number, p: any) => n + p.wanBytes + p.lanBytes, 0)
      if (received('leeds') >= 3 * PACKAGE_BYTES && received('york') >= 3 * PACKAGE_BYTES) break
      await new Promise((r) => setTimeout(r, 500))
    }
    for (const name of ['leeds', 'york']) {
      const subnet = subnetOf(status, name)
      expect(subnet.nodes.clients, name).toBe(3)
      const p = subnet.packages[0]
      expect(p.wanBytes + p.lanBytes, name).toBeGreaterThanOrEqual(3 * PACKAGE_BYTES)
      expect(p.wanBytes / PACKAGE_BYTES, name).toBeLessThanOrEqual(1.25)
      expect(p.dpUploadBytes / PACKAGE_BYTES, name).toBeLessThanOrEqual(1.25)
    }
  }, 300_000)
})
