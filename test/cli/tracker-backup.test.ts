import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { packageIdOf } from '../../chunker/index.ts'
import { cliTrackerWithPackages, peerstage, startDaemon } from '../helpers/cli.ts'
import { TrackerClient } from '../../tracker/index.ts'
import { nodeIdentity, SigningTrackerClient } from '../tracker/helpers.ts'

const CONFIG = `adminToken: s3cret
dpToken: dp-s3cret
sites:
  - name: dc
    subnets: [127.0.10.0/24]
  - name: leeds
    subnets: [127.0.1.0/24]
    wan: { default: 4MiB/s, maxWanClients: 1 }
`

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()))
})

/**
 * What an operator reads of a tracker: status, deployments (with their clients' reports),
 * catalogue, a throttle override; through the API the CLI's --json prints (fewer processes).
 */
async function views(url: string): Promise<Record<string, unknown>> {
  const t = new TrackerClient({ url, token: 's3cret' })
  try {
    const { time: _asked, budgetVersion: _counter, ...status } = await t.status() // when it was asked; a long-poll counter of this process
    const deployments = await t.listDeployments()
    return {
      status,
      deployments,
      reports: await Promise.all(deployments.map((d) => t.deploymentStatus(d.id))),
      packages: await t.listPackages(),
      throttle: await t.showThrottle({ site: 'leeds' }),
    }
  } finally {
    t.close()
  }
}

describe('tracker backup and restore (issue 21)', () => {
  it('a backup of a running tracker, restored into a fresh directory, starts a tracker that shows the same status, deployments, catalogue and overrides', async () => {
    const w = await cliTrackerWithPackages(CONFIG, (stop) => stops.push(stop))
    const admin = ['--tracker', w.url, '--token', 's3cret']
    const ok = async (args: string[]): Promise<string> => {
      const r = await peerstage(args)
      expect(r.code, r.stderr).toBe(0)
      return r.stdout
    }
    const api = new TrackerClient({ url: w.url, token: 's3cret' })
    await api.setThrottle({ site: 'leeds' }, { default: '1Mbit/s', windows: ['Mon-Fri 12:00-13:00 0'] })
    const manifest = readFileSync(w.manifest, 'utf8')
    await api.addPackage(manifest)
    const iso = (ms: number): string => new Date(ms).toISOString()
    const deployment = await api.createDeployment({ manifest, program: 'install', targets: ['site:leeds'], availableAt: iso(Date.now()), mandatoryAt: iso(Date.now() + 3_600_000) })
    api.close()
    // A client of leeds announces, with bytes and its deployment's progress: registrations, byte totals, reports.
    const node = nodeIdentity()
    const client = new SigningTrackerClient({ url: w.url, localAddress: '127.0.1.1' })
    const packageId = packageIdOf(manifest)
    await client.announce({ peerId: node.peerId, role: 'client', addresses: [`/ip4/127.0.1.1/tcp/4001/p2p/${node.peerId}`],
      packages: [{ id: packageId, have: 1, pieces: 1, bytes: { lan: 1000, wan: 50_000, reused: 7 } }],
      deployments: [{ id: deployment.id, state: 'downloading', progress: 0.5, bytes: { lan: 1000, wan: 50_000, reused: 7 }, verifyFailures: 0, updatedAt: new Date().toISOString() }] })
    client.close()
    const before = await views(w.url)
    expect((before.status as any).sites.find((s: any) => s.name === 'leeds').subnets[0].nodes).toEqual({ clients: 1, dps: 0 })

    const file = join(w.dir, 'backup.jsonl')
    const backup = JSON.parse(await ok(['tracker', 'backup', '--out', file, ...admin, '--json']))
    expect(backup).toMatchObject({ file, storeFormat: 1, bytes: statSync(file).size })
    expect(backup.records).toBeGreaterThanOrEqual(6) // override, manifest, package, deployment, registration, bytes, report
    expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(w.dir).filter((f) => f.includes('.tmp-'))).toEqual([])

    await Promise.all(stops.splice(0).map((stop) => stop())) // the first tracker is gone
    const restored = join(w.dir, 'restored')
    const r = JSON.parse(await ok(['tracker', 'restore', '--from', file, '--data', restored, '--json']))
    expect(r).toMatchObject({ dir: restored, records: backup.records })
    const again = startDaemon(['tracker', '--config', join(w.dir, 'tracker.yaml'), '--data', restored, '--json'])
    stops.push(again.stop)
    const after = await views((await again.ready).url as string)
    expect(after).toEqual(before)
    expect((after.reports as any)[0].sites.find((x: any) => x.name === 'leeds').subnets[0].clients[0]).toMatchObject({ peerId: node.peerId, state: 'downloading', progress: 0.5 })
  }, 180_000)

  it('backup refuses a wrong token (exit 2) and leaves no file; restore refuses a non-empty directory without --force, and moves it aside with it', async () => {
    const w = await cliTrackerWithPackages(CONFIG, (stop) => stops.push(stop))
    const file = join(w.dir, 'b.jsonl')
    const wrong = await peerstage(['tracker', 'backup', '--out', file, '--tracker', w.url, '--token', 'nope'])
    expect(wrong.code).toBe(2)
    expect(wrong.stderr.trim()).toBe('peerstage tracker: tracker: wrong token for the admin API')
    expect(existsSync(file)).toBe(false)
    expect(readdirSync(w.dir).filter((f) => f.includes('.tmp-'))).toEqual([])

    const api = new TrackerClient({ url: w.url, token: 's3cret' })
    await api.setThrottle({ site: 'leeds' }, { default: '0' })
    api.close()
    expect((await peerstage(['tracker', 'backup', '--out', file, '--tracker', w.url, '--token', 's3cret'])).code).toBe(0)

    // The running tracker's own directory: held, so even --force does not touch it.
    const live = join(w.dir, 'tracker-data')
    const held = await peerstage(['tracker', 'restore', '--from', file, '--data', live, '--force', '--json'])
    expect(held.code).toBe(2)
    expect(JSON.parse(held.stdout).error).toMatchObject({ code: 'PEERSTAGE_TRACKER_DATA_DIR', details: { problem: 'in-use' } })
    await Promise.all(stops.splice(0).map((stop) => stop()))

    const full = await peerstage(['tracker', 'restore', '--from', file, '--data', live])
    expect(full.code).toBe(2)
    expect(full.stderr.trim()).toBe(`peerstage tracker: the state directory ${live} is not empty: give restore an empty or new --data, or add --force to move what is there aside`)
    const forced = JSON.parse((await peerstage(['tracker', 'restore', '--from', file, '--data', live, '--force', '--json'])).stdout)
    expect(forced.replacedMovedTo).toMatch(/tracker-data\.before-restore-\d{8}T\d{6}Z$/)
    expect(readdirSync(forced.replacedMovedTo).length).toBeGreaterThan(0) // kept, not deleted
  }, 180_000)

  it('a backup cut short or altered is refused (exit 2) and nothing is put in place', async () => {
    const w = await cliTrackerWithPackages(CONFIG, (stop) => stops.push(stop))
    const api = new TrackerClient({ url: w.url, token: 's3cret' })
    await api.addPackage(readFileSync(w.manifest, 'utf8'))
    api.close()
    const file = join(w.dir, 'b.jsonl')
    expect((await peerstage(['tracker', 'backup', '--out', file, '--tracker', w.url, '--token', 's3cret'])).code).toBe(0)
    const lines = readFileSync(file, 'utf8').split('\n')
    writeFileSync(join(w.dir, 'cut.jsonl'), lines.slice(0, -2).join('\n') + '\n') // the closing line lost
    writeFileSync(join(w.dir, 'altered.jsonl'), lines.join('\n').replace('"name":"win11"', '"name":"win12"'))
    for (const [name, why] of [['cut.jsonl', /without its closing line: cut short/], ['altered.jsonl', /checksum does not match/]] as const) {
      const dir = join(w.dir, `into-${name}`)
      const r = await peerstage(['tracker', 'restore', '--from', join(w.dir, name), '--data', dir])
      expect(r.code).toBe(2)
      expect(r.stderr).toMatch(why)
      expect(r.stderr).toMatch(/nothing was restored/)
      expect(existsSync(dir)).toBe(false)
    }
    expect(readdirSync(w.dir).filter((f) => f.includes('restoring'))).toEqual([])
  }, 180_000)
})
