import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { peerstage, spawnCli, startDaemon } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { ISSUE_YAML } from '../tracker/helpers.ts'
import { readManifest } from '../../chunker/index.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

function configFile(text = ISSUE_YAML.replace('127.0.10.10:7070', '127.0.10.10:0')): string {
  const path = join(tempDir(), 'tracker.yaml')
  writeFileSync(path, text)
  return path
}

async function startTracker(config: string, data?: string): Promise<string> {
  const t = startDaemon(['tracker', '--config', config, ...(data ? ['--data', data] : []), '--json'])
  daemons.push(t.stop)
  return (await t.ready).url as string
}

describe('peerstage tracker, throttle, status (real processes)', () => {
  it('refuses an invalid config with one line naming the key, exit 2', async () => {
    const r = await peerstage(['tracker', '--config', configFile(ISSUE_YAML.replace('127.0.1.0/24', '127.0.1.0/33'))])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/tracker\.yaml: sites\[1\]\.subnets\[0\] '127\.0\.1\.0\/33' is not an IPv4 CIDR/)
    const json = await peerstage(['tracker', '--config', configFile('adminToken: a\ndpToken: d\nsites: [{name: x, timezone: Nowhere/City}]\n'), '--json'])
    expect(json.code).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_CONFIG', details: { key: 'sites[0].timezone' } })
  })

  it('says in one line when its Redis store is wrong (exit 2) or does not answer (exit 1)', async () => {
    const config = configFile()
    const cases: Array<[string[], number, RegExp]> = [
      [['--store', 'http://127.0.0.1:6379'], 2, /--store must be a Redis URL like redis:\/\/127\.0\.0\.1:6379\/0, got 'http:\/\/127\.0\.0\.1:6379'/],
      [['--store', 'redis://127.0.0.1:1/0', '--data', tempDir()], 2, /--data and a Redis store .* exclude each other/],
      [['--store', 'redis://user:pw@127.0.0.1:1/0'], 1, /redis:\/\/user:\*\*\*@127\.0\.0\.1:1\/0/],
    ]
    for (const [args, code, message] of cases) {
      const r = await peerstage(['tracker', '--config', config, ...args])
      expect(r.code, args.join(' ')).toBe(code)
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(message)
    }
    const bad = configFile(`${ISSUE_YAML}store: mysql://db/0\n`)
    expect((await peerstage(['tracker', '--config', bad])).stderr).toMatch(/tracker\.yaml: store must be a Redis URL/)
  })

  it('throttle set/show/clear as an operator uses them; the change survives a tracker restart', async () => {
    const config = configFile()
    const data = join(tempDir(), 'state')
    const url = await startTracker(config, data)
    const admin = ['--tracker', url, '--token', 's3cret']
    const set = await peerstage(['throttle', 'set', ...admin, '--site', 'leeds', '--window', 'Mon-Fri 08:00-18:00 1Mbit/s', '--window', 'Mon-Fri 12:00-13:00 0', '--max-wan-clients', '2'])
    expect(set.code, set.stderr).toBe(0)
    expect(set.stdout).toContain('site leeds (Europe/London)')
    expect(set.stdout).toContain('windows:         Mon-Fri 08:00-18:00 1Mbit/s; Mon-Fri 12:00-13:00 0')
    expect(set.stdout).toContain('max WAN clients: 2')
    expect(set.stdout).toMatch(/budget now: +\S/)

    await daemons.pop()!()
    const again = await startTracker(config, data)
    const shown = await peerstage(['throttle', 'show', '--tracker', again, '--token', 's3cret', '--site', 'leeds', '--json'])
    expect(JSON.parse(shown.stdout)).toMatchObject({ site: 'leeds', override: { windows: ['Mon-Fri 08:00-18:00 1Mbit/s', 'Mon-Fri 12:00-13:00 0'], maxWanClients: 2 } })
    const cleared = await peerstage(['throttle', 'clear', '--tracker', again, '--token', 's3cret', '--site', 'leeds', '--json'])
    expect(JSON.parse(cleared.stdout)).toMatchObject({ cleared: true, override: null, effective: { windows: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun unlimited'], maxWanClients: 1 } })
  })

  it('says what is wrong in one line: token, site, rule, usage, unreachable', async () => {
    const url = await startTracker(configFile())
    const cases: Array<[string[], number, RegExp]> = [
      [['throttle', 'show', '--tracker', url, '--token', 'nope', '--site', 'leeds'], 2, /wrong token for the admin API/],
      [['throttle', 'show', '--tracker', url, '--token', 's3cret', '--site', 'mars'], 2, /no site 'mars' in the tracker's config \(known: dc, leeds\)/],
      [['throttle', 'set', '--tracker', url, '--token', 's3cret', '--subnet', '127.0.1.0/24', '--window', 'Mon-Fri 8-18 2Mbit/s'], 2, /window 1 of the subnet 127\.0\.1\.0\/24/],
      [['throttle', 'set', '--tracker', url, '--token', 's3cret', '--site', 'leeds'], 2, /set needs at least one of/],
      [['throttle', 'show', '--tracker', url, '--token', 's3cret'], 2, /exactly one of --site NAME or --subnet CIDR/],
      [['throttle', 'push', '--tracker', url, '--token', 's3cret', '--site', 'leeds'], 2, /unknown action 'push'/],
      [['status', '--tracker', 'not a url'], 2, /is not a URL/],
      [['status', '--tracker', 'http://127.0.10.10:1'], 1, /cannot reach the tracker at http:\/\/127\.0\.10\.10:1: ECONNREFUSED/],
    ]
    for (const [args, code, message] of cases) {
      const r = await peerstage(args)
      expect(r.code, args.join(' ')).toBe(code)
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(message)
    }
    const status = await peerstage(['status', '--tracker', url])
    expect(status.code).toBe(0)
    expect(status.stdout).toMatch(/site leeds \(Europe\/London\)\n  127\.0\.1\.0\/24: 0 client\(s\), 0 DP\(s\); budget /)
  })
  it('says budgets and rules as a person would, and where each rule in force comes from', async () => {
    const url = await startTracker(configFile(ISSUE_YAML.replace('127.0.10.10:7070', '127.0.10.10:0').replace('  - name: leeds\n', '  - name: leeds\n    parent: dc\n')))
    const admin = ['--tracker', url, '--token', 's3cret']
    const status = await peerstage(['status', '--tracker', url])
    expect(status.code, status.stderr).toBe(0)
    expect(status.stdout).toContain('  127.0.10.0/24: 0 client(s), 0 DP(s); budget unlimited (no rule); leases 0/1 per package')
    expect(status.stdout).toContain('  link from dc: unlimited (no rule)')
    // Which of leeds's rules decides depends on the day and hour in London: each is named as its kind.
    expect(status.stdout).toMatch(/127\.0\.1\.0\/24: .*; budget (unlimited \(the site's default\)|244\.14 KiB\/s \(the site's window Mon-Fri 08:00-18:00 2Mbit\/s\)|unlimited \(the site's window Sat-Sun unlimited\)); /)
    expect(status.stdout).not.toContain('unlimited (unlimited')

    const site = await peerstage(['throttle', 'show', ...admin, '--site', 'leeds'])
    expect(site.stdout).toContain('  windows:         Mon-Fri 08:00-18:00 2Mbit/s; Sat-Sun unlimited (this site in the config file)\n')
    expect(site.stdout).toContain('  default:         unlimited (this site in the config file)\n') // it said 'inherited'
    expect(site.stdout).toContain('  max WAN clients: 1 (this site in the config file)\n')
    expect(site.stdout).not.toContain('inherited')

    const subnet = await peerstage(['throttle', 'set', ...admin, '--subnet', '127.0.1.0/24', '--default', '1MiB/s'])
    expect(subnet.code, subnet.stderr).toBe(0)
    expect(subnet.stdout).toContain('  windows:         none of its own\n                   also Mon-Fri 08:00-18:00 2Mbit/s; Sat-Sun unlimited (site leeds in the config file)\n')
    expect(subnet.stdout).toContain('  default:         1 MiB/s (throttle set on this subnet)\n')
    expect(subnet.stdout).toContain('  max WAN clients: 1 (site leeds in the config file)\n')
    const json = JSON.parse((await peerstage(['throttle', 'show', ...admin, '--subnet', '127.0.1.0/24', '--json'])).stdout)
    expect(json.inForce).toEqual({
      site: 'leeds', default: { rateBytesPerSec: 1024 * 1024, from: 'subnet override' }, maxWanClients: { value: 1, from: 'site config' },
      windowsFrom: 'none', widerWindows: [{ from: 'site config', rules: ['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun unlimited'] }],
    })

    const dc = await peerstage(['throttle', 'show', ...admin, '--site', 'dc'])
    expect(dc.stdout).toContain('  default:         unlimited (no rule sets one)\n')
    expect(dc.stdout).toContain('  max WAN clients: 1 (the built-in default: no rule sets it)\n')
    expect(dc.stdout).toContain('  budget now:      unlimited (no rule)\n')
  })

  it('reads a tracker with a dashboardToken with --token (it or the adminToken); without, one line and exit 2', async () => {
    const url = await startTracker(configFile(ISSUE_YAML.replace('127.0.10.10:7070', '127.0.10.10:0').replace('dpToken:', 'dashboardToken: dash\ndpToken:')))
    const reads = [['status'], ['status', '--packages'], ['deploy', 'list'], ['package', 'list']]
    for (const read of reads) {
      for (const token of ['dash', 's3cret']) {
        const r = await peerstage([...read, '--tracker', url, '--token', token])
        expect(r.code, `${read.join(' ')} ${token}: ${r.stderr}`).toBe(0)
      }
      for (const [args, message] of [[[], /reading the tracker \(viewerToken\) needs 'Authorization: Bearer TOKEN'/], [['--token', 'nope'], /wrong token for reading the tracker/]] as const) {
        const r = await peerstage([...read, '--tracker', url, ...args])
        expect(r.code, read.join(' ')).toBe(2)
        expect(r.stderr.trim().split('\n'), read.join(' ')).toEqual([expect.stringMatching(message)])
      }
    }
    expect((await peerstage(['status', '--tracker', url, '--token', 'dash'])).stdout).toMatch(/site leeds \(Europe\/London\)/)
  })
})

describe('peerstage client (real processes)', () => {
  it('finishes a fetch that was killed, from the same --data, under the tracker', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(8_000_000, 41) })
    expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
    const manifest = join(dir, 'pkg.json')
    expect((await peerstage(['pack', src, '--name', 'win11', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest])).code).toBe(0)
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
    const url = await startTracker(configFile(ISSUE_YAML.replace('127.0.10.10:7070', '127.0.10.10:0').replace('dpToken: dp-s3cret', 'dpToken: dp-s3cret\nannounceIntervalSeconds: 1')))
    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp-s3cret', '--json'])
    daemons.push(dp.stop)
    await dp.ready

    const node = ['--swarm-key', join(dir, 'swarm.key'), '--data', join(dir, 'client'), '--listen', '/ip4/127.0.1.5/tcp/0', '--dial-from', '127.0.1.5', '--tracker', url]
    const out = join(dir, 'out')
    const staged = join(dir, 'client', 'staging', readManifest(manifest).packageId)
    const killed = spawnCli(['fetch', manifest, '--out', out, '--download-limit', '2MB/s', ...node])
    const exited = new Promise((r) => killed.once('exit', r))
    // Kill once the download has begun (the staged file is created at full size when it starts).
    for (let i = 0; i < 200 && !existsSync(join(staged, 'install.wim')); i++) await new Promise((r) => setTimeout(r, 50))
    await new Promise((r) => setTimeout(r, 500))
    killed.kill('SIGKILL')
    await exited
    expect((await peerstage(['verify', manifest, staged])).code).toBe(1) // staged, but not whole yet
    expect(existsSync(join(out, 'install.wim'))).toBe(false) // nothing under its final name before it is whole

    const noTrust = await peerstage(['client', ...node])
    expect([noTrust.code, noTrust.stderr.split('\n')[0]]).toEqual([2, 'peerstage client: --trust PUBFILE is required: the client runs only packages of publishers it trusts'])
    const client = startDaemon(['client', ...node, '--trust', join(dir, 'keys/publisher.pub'), '--json'])
    daemons.push(client.stop)
    const ready = await client.ready
    expect(ready).toMatchObject({ subnet: '127.0.1.0/24', site: 'leeds', packages: [{ name: 'win11', version: '1', complete: false }] })
    let verified = 1
    for (let i = 0; i < 60 && verified !== 0; i++) {
      await new Promise((r) => setTimeout(r, 500))
      verified = (await peerstage(['verify', manifest, staged])).code
    }
    expect(verified).toBe(0)
    // The fetch run again delivers it into --out from the store, downloading nothing.
    await client.stop()
    const again = await peerstage(['fetch', manifest, '--out', out, ...node, '--json'])
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, downloadedBytes: 0 })
    expect((await peerstage(['verify', manifest, out])).code).toBe(0)
  })

  it('keeps trying a tracker that is not up yet, and stops cleanly on SIGTERM meanwhile', async () => {
    const dir = tempDir()
    expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
    const child = spawnCli(['client', '--tracker', 'http://127.0.10.10:1', '--data', join(dir, 'client'), '--swarm-key', join(dir, 'swarm.key'),
      '--trust', join(dir, 'keys/publisher.pub'), '--listen', '/ip4/127.0.1.9/tcp/0', '--dial-from', '127.0.1.9'])
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>((r) => child.once('exit', r))
    for (let i = 0; i < 200 && !stderr.includes('trying again'); i++) await new Promise((r) => setTimeout(r, 50))
    expect(stderr).toBe('peerstage client: cannot reach the tracker at http://127.0.10.10:1: ECONNREFUSED; trying again every 5 s\n')
    expect(child.exitCode).toBeNull() // still running: a service outlives a tracker that is down
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
