import { createHash } from 'node:crypto'
import { chmodSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readManifest } from '../../chunker/index.ts'
import { afterEach, describe, expect, it } from 'vitest'
import { cliPack, peerstage, startDaemon, startTestTracker } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

const WIM_BYTES = 16 * 1024 * 1024
const SITES = [{ name: 'leeds', subnet: 1 }, { name: 'york', subnet: 2 }]
const HOSTS = [1, 2, 3]

/** Appends "deployment sha256(install.wim) seconds-since-epoch cwd" to the marker: what ran, on which bytes, when, where. */
const INSTALL_SH = '#!/bin/sh\necho "$PEERSTAGE_DEPLOYMENT $(sha256sum install.wim | cut -d" " -f1) $(date +%s) $(pwd)" >> "$PEERSTAGE_TEST_MARKER"\n'

describe('a deployment to two subnets of three clients (real processes)', () => {
  it('every client pre-stages, verifies and runs the program once at mandatoryAt; the tracker shows them all succeeded', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    const wim = pseudoRandomBytes(WIM_BYTES, 9)
    writeTree(src, { 'install.wim': wim, 'install.sh': INSTALL_SH })
    chmodSync(join(src, 'install.sh'), 0o755)
    const marker = join(dir, 'marker.txt')
    process.env.PEERSTAGE_TEST_MARKER = marker // the clients inherit it, and pass it to the program
    const manifest = await cliPack(dir, src, { program: 'install=./install.sh' })
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)

    const { url } = await startTestTracker(dir, {
      listen: '127.0.10.10:0', lines: ['trust: [keys/publisher.pub]'],
      sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, ...SITES.map((s) => ({ name: s.name, subnets: [`127.0.${s.subnet}.0/24`], wan: '{ maxWanClients: 1 }' }))],
    }, (stop) => daemons.push(stop))
    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp-s3cret', '--json'])
    daemons.push(dp.stop)
    await dp.ready

    const clients = SITES.flatMap((s) => HOSTS.map((h) => {
      const ip = `127.0.${s.subnet}.${h}`
      const data = join(dir, `client-${ip}`)
      const c = startDaemon(['client', '--tracker', url, '--data', data, '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'),
        '--listen', `/ip4/${ip}/tcp/0`, '--dial-from', ip, '--json'])
      daemons.push(c.stop)
      return { ip, data, ...c }
    }))
    for (const c of clients) expect((await c.ready).subnet).toBe(`127.0.${c.ip.split('.')[2]}.0/24`)

    const mandatoryAt = new Date(Date.now() + 10_000)
    const created = await peerstage(['deploy', 'create', '--tracker', url, '--token', 's3cret', '--manifest', manifest, '--program', 'install',
      '--target', 'site:leeds', '--target', 'site:york', '--available', new Date().toISOString(), '--mandatory', mandatoryAt.toISOString(), '--json'])
    expect(created.code, created.stderr).toBe(0)
    const { id } = JSON.parse(created.stdout)

    let status: any
    for (let i = 0; i < 240; i++) {
      const shown = await peerstage(['deploy', 'show', id, '--tracker', url, '--json'])
      status = JSON.parse(shown.stdout)
      if ((status.status.counts.succeeded ?? 0) + (status.status.counts.failed ?? 0) >= clients.length) break
      await new Promise((r) => setTimeout(r, 500))
    }
    expect(status.status.counts).toEqual({ succeeded: clients.length })

    // Each client ran it once, in its own package directory, on the whole verified file, not before mandatoryAt.
    const wimHash = createHash('sha256').update(wim).digest('hex')
    const runs = readFileSync(marker, 'utf8').trim().split('\n')
    expect(runs).toHaveLength(clients.length)
    for (const c of clients) {
      const dirOf = join(c.data, 'packages', readManifest(manifest).packageId)
      const mine = runs.filter((line) => line.endsWith(` ${dirOf}`))
      expect(mine, c.ip).toHaveLength(1)
      const [deployment, hash, seconds] = mine[0]!.split(' ')
      expect([deployment, hash]).toEqual([id, wimHash])
      expect(Number(seconds)).toBeGreaterThanOrEqual(Math.floor(mandatoryAt.getTime() / 1000))
      expect(existsSync(join(c.data, 'staging', 'win11@24H2')), c.ip).toBe(false)
    }

    // Per subnet: every client succeeded, and the WAN cost about one package.
    for (const s of SITES) {
      const subnet = status.status.sites.find((x: any) => x.name === s.name).subnets[0]
      expect(subnet.counts, s.name).toEqual({ succeeded: 3 })
      const wanShare = subnet.bytes.wan / WIM_BYTES
      console.log(`site ${s.name}: WAN ${subnet.bytes.wan} B = ${wanShare.toFixed(3)} x package, LAN ${subnet.bytes.lan} B`)
      expect(subnet.bytes.wan).toBeGreaterThan(0)
      expect(wanShare).toBeLessThanOrEqual(1.25)
    }
    const human = await peerstage(['status', '--tracker', url])
    expect(human.stdout).toContain(id)
  }, 300_000)
})
