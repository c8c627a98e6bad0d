import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { generatePublisherKeys } from '../../chunker/index.ts'
import { readTrackerConfig, TrackerErrorCodes } from '../../tracker/index.ts'
import { CHAIN_SITES_YAML, ISSUE_YAML } from '../tracker/helpers.ts'
import { fuzz, fuzzTimeoutMs, mutatedMany, nastyString, resultOrCode, fileTempDir } from './fuzz.ts'

const dir = fileTempDir()

/** Every key of the config at once, with files to name: what the mutations start from. */
const FULL = {
  listen: '127.0.10.10:7070',
  adminTokenFile: 'admin.token',
  dpToken: 'dp-s3cret',
  clientToken: 'client-s3cret',
  viewerToken: 'viewer-s3cret',
  announceIntervalSeconds: 10,
  registrationSeconds: 40,
  leaseSeconds: 40,
  maxPeers: 20,
  wan: { timezone: 'UTC', default: '100MiB/s', windows: ['Mon-Fri 08:00-18:00 50MiB/s'], maxWanClients: 2 },
  sites: [
    { name: 'hub', subnets: ['127.0.10.0/24'] },
    { name: 'leeds', timezone: 'Europe/London', subnets: ['127.0.1.0/24', '10.1.0.0/16'], parent: 'hub', link: { default: '50MiB/s', windows: [{ days: 'Sat-Sun', rate: 'unlimited' }] }, replicate: ['win11@*', '*'], wan: { default: 'unlimited', windows: ['Mon-Fri 08:00-18:00 2Mbit/s'], maxWanClients: 1 } },
  ],
  dps: [{ peerId: '12D3KooWDpPeerId', serves: ['leeds'] }],
  trust: ['keys/publisher.pub'],
  rateLimit: { perAddressPerSecond: 50, burst: 100 },
}

beforeAll(() => {
  writeFileSync(join(dir, 'admin.token'), 'admin-s3cret\n')
  writeFileSync(join(dir, 'empty.token'), '')
  writeFileSync(join(dir, 'two-words.token'), 'a b\n')
  generatePublisherKeys(join(dir, 'keys'))
})

/** Raw YAML: documents, anchors and alias bombs, tags, flow and block mixed. */
const yamlText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom(
    'a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\nsites: [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
    'sites: !!binary aGVsbG8=', 'sites: !!set {a, b}', 'sites: !!omap [a: 1]', 'adminToken: !!int 5', 'listen: !!float .inf',
    '---\nadminToken: a\n---\nadminToken: b', '%YAML 1.1\n---\nadminToken: yes', '<<: *x', 'adminToken: &x a\n<<: {dpToken: *x}',
    'sites:\n  - name: a\n    parent: b\n  - name: b\n    parent: a', '{', '\t- x', 'adminToken: "\\uD800"',
  ),
  fc.tuple(fc.constantFrom(ISSUE_YAML, `adminToken: a\ndpToken: b\n${CHAIN_SITES_YAML}`), fc.nat(), fc.string({ maxLength: 6 })).map(([text, at, s]) => {
    const i = at % (text.length + 1)
    return text.slice(0, i) + s + text.slice(i)
  }),
)

describe('fuzz: the tracker config (YAML)', () => {
  it('readTrackerConfig on mutated configs and raw YAML: a config, or PEERSTAGE_TRACKER_BAD_CONFIG naming the file', async () => {
    const fileName = fc.constantFrom('admin.token', 'empty.token', 'two-words.token', 'missing.token', 'keys', 'keys/publisher.pub', 'keys/publisher.key', '.', '')
    const structured = fc.oneof(
      mutatedMany(FULL, 4),
      fc.record({ adminToken: fc.oneof(nastyString(), fc.integer()), dpTokenFile: fileName, trust: fc.array(fc.oneof(fileName, nastyString(16))), sites: fc.array(fc.record({ name: nastyString(8), subnets: fc.array(fc.oneof(fc.ipV4().map((ip) => `${ip}/24`), fc.ipV4(), nastyString(20))), parent: nastyString(8) }, { requiredKeys: ['name'] }), { maxLength: 4 }) }, { requiredKeys: [] }),
    )
    let n = 0
    await fuzz('tracker.config', fc.oneof(structured.map((v) => stringify(v)), yamlText), async (text) => {
      const path = join(dir, `tracker-${n++ % 4}.yaml`)
      writeFileSync(path, text)
      const r = await resultOrCode([TrackerErrorCodes.BAD_CONFIG], () => readTrackerConfig(path))
      if (r.ok) {
        const c = r.value
        expect(c.adminToken.length).toBeGreaterThan(0)
        expect(c.dpToken.length).toBeGreaterThan(0)
        expect(c.announceIntervalSeconds).toBeGreaterThanOrEqual(1)
        for (const s of c.sites) expect(s.parent === undefined || c.sites.some((o) => o.name === s.parent)).toBe(true)
      }
    }, 300)
  }, fuzzTimeoutMs())
})
