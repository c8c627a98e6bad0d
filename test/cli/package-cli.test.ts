import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliTrackerWithPackages, peerstage } from '../helpers/cli.ts'
import { CHAIN_SITES_YAML, peerId, SigningTrackerClient } from '../tracker/helpers.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** A tracker process of the replication issue's site tree. */
const world = () => cliTrackerWithPackages(`adminToken: s3cret\ndpToken: dp-s3cret\n${CHAIN_SITES_YAML}`, (stop) => daemons.push(stop))

const json = (stdout: string): any => JSON.parse(stdout)

describe('peerstage package, status --packages (real tracker process)', () => {
  it('adds, lists, shows every DP\'s replica, refuses to remove a deployed package, removes by NAME@VERSION', async () => {
    const w = await world()
    const added = await peerstage(['package', 'add', w.manifest, '--tracker', w.url, '--token', 's3cret', '--json'])
    expect(added.code, added.stderr).toBe(0)
    const p = json(added.stdout)
    expect(p).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{64}$/), name: 'win11', version: '24H2', publisher: expect.stringMatching(/^ed25519:/), bytes: 100_011 })
    const again = await peerstage(['package', 'add', w.manifest, '--tracker', w.url, '--token', 's3cret'])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toBe(`package win11@24H2\n  id         ${p.id}\n  publisher  ${p.publisher}\n  size       97.7 KiB\n  added      ${p.addedAt}\n`)

    expect(json((await peerstage(['package', 'list', '--tracker', w.url, '--json'])).stdout)).toEqual({ packages: [p] })
    const list = await peerstage(['package', 'list', '--tracker', w.url])
    expect(list.stdout.split('\n')[0]).toMatch(/^ID {64}PACKAGE {5}SIZE {6}ADDED$/)
    expect(list.stdout.split('\n')[1]).toBe(`${p.id}  win11@24H2  97.7 KiB  ${p.addedAt}`)

    // The hub's DP seeds it; the region's copies it; the branch has no DP.
    const dp = (ip: string, peerId: string, replica: Record<string, unknown>) => {
      const c = new SigningTrackerClient({ url: w.url, token: 'dp-s3cret', localAddress: ip })
      return c.announce({ peerId, role: 'dp', addresses: [], packages: [{ id: p.id, have: 1, pieces: 2, replica: { totalBytes: p.bytes, ...replica } as any }] }).finally(() => c.close())
    }
    const [hubDp, regionDp] = [peerId(), peerId()]
    await dp('127.0.10.1', hubDp, { state: 'seeding', presentBytes: p.bytes, origin: 'published' })
    const answer = await dp('127.0.1.1', regionDp, { state: 'replicating', presentBytes: 50_000, origin: 'replicated' })
    expect(answer.replicate).toEqual([{ id: p.id, name: 'win11', version: '24H2' }])
    const status = json((await peerstage(['status', '--packages', '--tracker', w.url, '--json'])).stdout)
    expect(status.packages[0].sites.map((s: any) => [s.site, s.required, s.dps.map((d: any) => d.state)])).toEqual([['hub', true, ['seeding']], ['region', true, ['replicating']], ['branch', true, []]])
    const human = await peerstage(['status', '--packages', '--tracker', w.url])
    expect(human.code, human.stderr).toBe(0)
    const rows = human.stdout.trim().split('\n').map((l) => l.split(/ {2,}/))
    expect(rows).toEqual([
      ['PACKAGE', 'SITE', 'DP', 'STATE', 'BYTES', 'LAST COPIED'],
      ['win11@24H2', 'hub', `…${hubDp.slice(-8)}`, 'seeding', '97.7 KiB/97.7 KiB', 'never'],
      ['win11@24H2', 'region', `…${regionDp.slice(-8)}`, 'replicating', '48.8 KiB/97.7 KiB', 'never'],
      ['win11@24H2', 'branch', 'no DP registered'],
    ])

    const created = await peerstage(['deploy', 'create', '--tracker', w.url, '--token', 's3cret', '--manifest', w.manifest, '--program', 'install', '--target', 'site:branch',
      '--available', new Date().toISOString(), '--mandatory', new Date(Date.now() + 86_400_000).toISOString(), '--json'])
    const d = json(created.stdout)
    const inUse = await peerstage(['package', 'remove', 'win11@24H2', '--tracker', w.url, '--token', 's3cret'])
    expect(inUse.code).toBe(2)
    expect(inUse.stderr).toBe(`peerstage package: tracker: package win11@24H2 (${p.id}) is named by deployment ${d.id}, neither cancelled nor expired: cancel it first (peerstage deploy cancel ID)\n`)
    expect(json((await peerstage(['package', 'remove', p.id, '--tracker', w.url, '--token', 's3cret', '--json'])).stdout).error.code).toBe('PEERSTAGE_TRACKER_PACKAGE_IN_USE')
    expect((await peerstage(['deploy', 'cancel', d.id, '--tracker', w.url, '--token', 's3cret'])).code).toBe(0)
    const removed = await peerstage(['package', 'remove', 'win11@24H2', '--tracker', w.url, '--token', 's3cret'])
    expect(removed.code, removed.stderr).toBe(0)
    expect(removed.stdout).toBe(`removed win11@24H2 (${p.id}) from the catalogue: DPs delete their replicas\n`)
    expect((await peerstage(['package', 'list', '--tracker', w.url])).stdout).toBe('no packages in the catalogue\n')
  })

  it('refuses in one line, exit 2: usage, untrusted package, token, unknown package; exit 1 when unreachable', async () => {
    const w = await world()
    const cases: Array<[string[], number, RegExp]> = [
      [['package', 'add', w.untrusted, '--tracker', w.url, '--token', 's3cret'], 2, /^peerstage package: tracker: .*signed by ed25519:\S+, which is not a trusted publisher/],
      [['package', 'add', join(w.dir, 'missing.json'), '--tracker', w.url, '--token', 's3cret'], 2, /cannot read manifest .*missing\.json: ENOENT/],
      [['package', 'add', w.manifest, '--tracker', w.url], 2, /^peerstage package: --token is required \(or --token-file FILE, or PEERSTAGE_TOKEN in the environment\)$/],
      [['package', 'add', w.manifest, '--tracker', w.url, '--token', 'nope'], 2, /wrong token for the admin API/],
      [['package', 'add', '--tracker', w.url, '--token', 's3cret'], 2, /add needs the signed manifest file/],
      [['package', 'remove', '--tracker', w.url, '--token', 's3cret'], 2, /remove needs the package id or NAME@VERSION/],
      [['package', 'remove', 'win11', '--tracker', w.url, '--token', 's3cret'], 2, /remove takes a package id \(64 hex digits\) or NAME@VERSION, got 'win11'/],
      [['package', 'remove', 'win11@25H2', '--tracker', w.url, '--token', 's3cret'], 2, /^peerstage package: no package win11@25H2 in the catalogue \(peerstage package list shows them\)$/],
      [['package', 'remove', 'c'.repeat(64), '--tracker', w.url, '--token', 's3cret'], 2, /no package c{64} in the catalogue/],
      [['package', 'list', 'extra', '--tracker', w.url], 2, /list takes no argument, got 'extra'/],
      [['package', 'push', '--tracker', w.url], 2, /unknown action 'push': use add, list or remove/],
      [['status', '--packages', '--tracker', 'http://127.0.10.10:1'], 1, /cannot reach the tracker at http:\/\/127\.0\.10\.10:1: ECONNREFUSED/],
      [['package', 'list', '--tracker', 'http://127.0.10.10:1'], 1, /cannot reach the tracker/],
    ]
    for (const [args, code, message] of cases) {
      const r = await peerstage(args)
      expect(r.code, args.join(' ')).toBe(code)
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(message)
      expect(r.stderr.split('\n').filter(Boolean).length, args.join(' ')).toBeLessThanOrEqual(2) // the sentence, and for usage the --help hint
    }
    const untrusted = await peerstage(['package', 'add', w.untrusted, '--tracker', w.url, '--token', 's3cret', '--json'])
    expect([untrusted.code, json(untrusted.stdout).error.code]).toEqual([2, 'PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE'])
    expect(json((await peerstage(['status', '--packages', '--tracker', w.url, '--json'])).stdout)).toEqual({ time: expect.any(String), packages: [] })
    expect((await peerstage(['status', '--packages', '--tracker', w.url])).stdout).toBe('no packages: peerstage package add MANIFEST lists one for the DPs\n')
    const help = await peerstage(['package', '--help'])
    expect([help.code, help.stdout.split('\n')[0]]).toEqual([0, 'Usage: peerstage package add MANIFEST --tracker URL --token T [--json]'])
  })

  it('node release: a DP bound to its subnet moves once an admin releases it (defect 2)', async () => {
    const w = await world()
    const dpId = peerId()
    const from = (ip: string) => new SigningTrackerClient({ url: w.url, token: 'dp-s3cret', localAddress: ip })
    const announce = (ip: string) => { const c = from(ip); return c.announce({ peerId: dpId, role: 'dp', addresses: [], packages: [] }).finally(() => c.close()) }
    expect((await announce('127.0.10.1')).site).toBe('hub')
    await expect(announce('127.0.1.1')).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_PEER_BOUND', message: expect.stringContaining(`peerstage node release ${dpId}`) })
    const released = await peerstage(['node', 'release', dpId, '--tracker', w.url, '--token', 's3cret', '--json'])
    expect(released.code, released.stderr).toBe(0)
    expect(json(released.stdout)).toEqual({ peerId: dpId, released: true })
    expect((await announce('127.0.1.1')).site).toBe('region')
    const human = await peerstage(['node', 'release', peerId(), '--tracker', w.url, '--token', 's3cret'])
    expect(human.stdout).toMatch(/ is not registered: nothing to release\n$/)
    const wrong = await peerstage(['node', 'release', dpId, '--tracker', w.url, '--token', 'nope'])
    expect([wrong.code, wrong.stderr]).toEqual([2, 'peerstage node: tracker: wrong token for the admin API\n'])
  })
})
