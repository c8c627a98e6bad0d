import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { deployCommands } from '../../bin/deploy-commands.ts'
import { cliTrackerWithPackages, peerstage } from '../helpers/cli.ts'
import { ISSUE_YAML, peerId, SigningTrackerClient } from '../tracker/helpers.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** A tracker process of the deployments issue's config. */
const world = () => cliTrackerWithPackages(ISSUE_YAML, (stop) => daemons.push(stop))

const json = (stdout: string): any => JSON.parse(stdout)

/** Times around the real clock (the tracker process runs on it), whole seconds so they print as `….000Z`. */
const HOUR = 3_600_000
const NOW = Math.floor(Date.now() / 1000) * 1000
const at = (ms: number): string => new Date(NOW + ms).toISOString()
const AVAILABLE = at(2 * HOUR)
const MANDATORY = at(8 * HOUR)
const EXPIRES = at(4 * 24 * HOUR)

describe('peerstage deploy (real tracker process)', () => {
  it('creates, lists, shows and cancels, in JSON and for people', async () => {
    const w = await world()
    const create = ['deploy', 'create', '--tracker', w.url, '--token', 's3cret', '--manifest', w.manifest, '--program', 'install', '--target', 'site:leeds', '--target', 'subnet:127.0.9.0/24',
      '--available', AVAILABLE.replace('.000Z', '+00:00'), '--mandatory', MANDATORY.replace('.000Z', '+00:00'), '--jitter', '3600']
    const created = await peerstage([...create, '--json'])
    expect(created.code, created.stderr).toBe(0)
    const d = json(created.stdout)
    expect(d).toMatchObject({ id: expect.stringMatching(/^d-[0-9a-f]{8}$/), name: 'win11', version: '24H2', program: 'install', targets: ['site:leeds', 'subnet:127.0.9.0/24'],
      availableAt: AVAILABLE, mandatoryAt: MANDATORY, expiresAt: null, jitterSeconds: 3600, cancelledAt: null })
    const human = await peerstage([...create, '--expires', EXPIRES])
    expect(human.code, human.stderr).toBe(0)
    expect(human.stdout).toMatch(/^deployment d-[0-9a-f]{8}: win11@24H2, program install\n/)
    expect(human.stdout).toContain('  targets    site:leeds, subnet:127.0.9.0/24')
    expect(human.stdout).toContain(`  available  ${AVAILABLE} (+ up to 3600 s per client)`)
    expect(human.stdout).toContain(`  expires    ${EXPIRES}`)

    const listed = await peerstage(['deploy', 'list', '--tracker', w.url, '--json'])
    expect(json(listed.stdout).deployments.map((x: any) => x.id)).toContain(d.id)
    const listHuman = await peerstage(['deploy', 'list', '--tracker', w.url])
    expect(listHuman.stdout.trim().split('\n')).toHaveLength(2)
    expect(listHuman.stdout).toContain(`${d.id}  win11@24H2  install  available ${AVAILABLE}  mandatory ${MANDATORY}  site:leeds subnet:127.0.9.0/24`)

    // A client of leeds reports: show and status print it.
    const node = new SigningTrackerClient({ url: w.url, localAddress: '127.0.1.5' })
    const leedsPc = peerId()
    const answer = await node.announce({ peerId: leedsPc, role: 'client', name: 'leeds-pc-5', version: '0.0.9', addresses: [], packages: [],
      deployments: [{ id: d.id, state: 'failed', progress: 0.25, reason: 'not enough disk space', bytes: { lan: 2048, wan: 1024, reused: 0 }, verifyFailures: 0, updatedAt: at(2 * HOUR + 300_000) }] })
    node.close()
    expect(answer.deployments.map((x) => x.id)).toContain(d.id)
    const shown = await peerstage(['deploy', 'show', d.id, '--tracker', w.url, '--json'])
    const s = json(shown.stdout)
    expect(s.deployment).toEqual(d)
    expect(s.status.counts).toEqual({ failed: 1 })
    expect(s.status.sites[0]).toMatchObject({ name: 'leeds', subnets: [{ subnet: '127.0.1.0/24', counts: { failed: 1 }, bytes: { lan: 2048, wan: 1024, reused: 0 }, dpUploadBytes: 0 }] })
    const showHuman = await peerstage(['deploy', 'show', d.id, '--tracker', w.url])
    expect(showHuman.stdout).toContain('  clients    1 failed')
    expect(showHuman.stdout).toContain(`  site leeds\n    127.0.1.0/24: 1 failed; LAN 2.00 KiB, WAN 1.00 KiB, reused 0 B; sent by DPs 0 B\n      leeds-pc-5  ${leedsPc}  127.0.1.5  0.0.9  failed 25%: not enough disk space\n`)
    const status = await peerstage(['status', '--tracker', w.url])
    expect(status.stdout).toContain(`    deployment ${d.id} win11@24H2: 1 failed`)
    // The node by name, peer id, address and version: a node on another version shows as such.
    expect(status.stdout).toMatch(new RegExp(`\\n    leeds-pc-5  ${leedsPc}  127\\.0\\.1\\.5  client  0\\.0\\.9  online\\n`))

    const cancelled = await peerstage(['deploy', 'cancel', d.id, '--tracker', w.url, '--token', 's3cret', '--json'])
    expect(json(cancelled.stdout).cancelledAt).toEqual(expect.any(String))
    const again = await peerstage(['deploy', 'cancel', d.id, '--tracker', w.url, '--token', 's3cret'])
    expect(again.stdout).toMatch(new RegExp(`^deployment ${d.id}: win11@24H2, program install \\(cancelled \\S+\\)`))
  })

  it('refuses in one line, exit 2: usage, untrusted package, token, unknown id; exit 1 when unreachable', async () => {
    const w = await world()
    const base = (manifest: string) => ['deploy', 'create', '--tracker', w.url, '--token', 's3cret', '--manifest', manifest, '--program', 'install', '--target', 'site:leeds', '--available', AVAILABLE, '--mandatory', MANDATORY]
    const cases: Array<[string[], number, RegExp]> = [
      [[...base(w.manifest), '--available', '27/11/2026 20:00'], 2, /^peerstage deploy: --available '27\/11\/2026 20:00' is not an ISO 8601 time like 2026-11-27T20:00:00\+00:00$/],
      [[...base(w.manifest), '--jitter', '1h'], 2, /--jitter takes whole seconds/],
      [['deploy', 'create', '--tracker', w.url, '--token', 's3cret', '--manifest', w.manifest, '--program', 'install', '--available', AVAILABLE, '--mandatory', MANDATORY], 2, /--target is required/],
      [['deploy', 'show', '--tracker', w.url], 2, /show needs the deployment id/],
      [['deploy', 'push', '--tracker', w.url], 2, /unknown action 'push'/],
      [base(w.untrusted), 2, /signed by ed25519:\S+, which is not a trusted publisher/],
      [base(join(w.dir, 'missing.json')), 2, /cannot read manifest .*missing\.json: ENOENT/],
      [[...base(w.manifest), '--program', 'uninstall'], 2, /program 'uninstall' is not in win11@24H2/],
      [[...base(w.manifest), '--target', 'site:mars'], 2, /no site 'mars'/],
      [['deploy', 'cancel', 'd-00000000', '--tracker', w.url, '--token', 'nope'], 2, /wrong token for the admin API/],
      [['deploy', 'show', 'd-00000000', '--tracker', w.url], 2, /no deployment 'd-00000000'/],
      [['deploy', 'list', '--tracker', 'http://127.0.10.10:1'], 1, /cannot reach the tracker at http:\/\/127\.0\.10\.10:1: ECONNREFUSED/],
    ]
    for (const [args, code, message] of cases) {
      const r = await peerstage(args)
      expect(r.code, args.join(' ')).toBe(code)
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(message)
      expect(r.stderr.split('\n').filter(Boolean).length, args.join(' ')).toBeLessThanOrEqual(2) // the sentence, and for usage the --help hint
    }
    const untrusted = await peerstage([...base(w.untrusted), '--json'])
    expect(untrusted.code).toBe(2)
    expect(json(untrusted.stdout).error.code).toBe('PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE')
    expect(json((await peerstage(['deploy', 'list', '--tracker', w.url, '--json'])).stdout)).toEqual({ deployments: [] })
  })

  it('is documented in the README, every option', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
    for (const cmd of deployCommands) {
      expect(readme).toContain(`\`${cmd.name} `)
      for (const option of Object.keys(cmd.options)) expect(readme, `${cmd.name} --${option}`).toContain(`--${option}`)
    }
    expect(readme).toContain('`PEERSTAGE_TRACKER_UNTRUSTED_PACKAGE`')
  })
})
