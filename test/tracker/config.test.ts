import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { generatePublisherKeys } from '../../chunker/index.ts'
import { createTrackerConfig, globMatcher, parseCidr, readTrackerConfig, SubnetIndex } from '../../tracker/index.ts'
import { tempDir } from '../helpers/tmp.ts'
import { ISSUE_YAML } from './helpers.ts'

describe('tracker config', () => {
  it('reads the documented shape', () => {
    const path = join(tempDir(), 'tracker.yaml')
    writeFileSync(path, ISSUE_YAML)
    const c = readTrackerConfig(path)
    expect(c.listen).toBe('127.0.10.10:7070')
    expect(c.sites.map((s) => [s.name, s.timeZone, s.subnets.map((n) => n.text)])).toEqual([['dc', 'UTC', ['127.0.10.0/24']], ['leeds', 'Europe/London', ['127.0.1.0/24']]])
    expect(c.sites[1]!.wan.maxWanClients).toBe(1)
    expect(c.sites[1]!.wan.schedule.windows.map((w) => w.text)).toEqual(['Mon-Fri 08:00-18:00 2Mbit/s', 'Sat-Sun unlimited'])
    expect(c.sites[1]!.wan.schedule.timeZone).toBe('Europe/London')
    expect([c.announceIntervalSeconds, c.leaseSeconds, c.registrationSeconds]).toEqual([30, 90, 90])
  })

  const base = { adminToken: 'a', dpToken: 'd' }
  const cases: Array<[string, unknown, RegExp]> = [
    ['not a mapping', [1, 2], /must be a mapping/],
    ['unknown top key', { ...base, sitez: [] }, /^sitez is not a known key/],
    ['no admin token', { dpToken: 'd' }, /^adminToken must be a non-empty string/],
    ['empty dashboard token', { ...base, dashboardToken: '' }, /^dashboardToken must be a non-empty string/],
    ['listen without port', { ...base, listen: 'localhost' }, /^listen must be HOST:PORT/],
    ['bad interval', { ...base, announceIntervalSeconds: 0 }, /^announceIntervalSeconds must be a whole number >= 1/],
    ['site without name', { ...base, sites: [{ subnets: [] }] }, /^sites\[0\]\.name must be a name/],
    ['duplicate site', { ...base, sites: [{ name: 'a' }, { name: 'a' }] }, /^sites\[1\]\.name 'a' is used by two sites/],
    ['bad CIDR', { ...base, sites: [{ name: 'a', subnets: ['127.0.1.0/33'] }] }, /^sites\[0\]\.subnets\[0\] '127.0.1.0\/33' is not an IPv4 CIDR/],
    ['subnet in two sites', { ...base, sites: [{ name: 'a', subnets: ['10.0.0.0/24'] }, { name: 'b', subnets: ['10.0.0.7/24'] }] }, /^sites\[1\]\.subnets\[0\] 10.0.0.0\/24 is already a subnet of site a/],
    ['bad time zone', { ...base, sites: [{ name: 'a', timezone: 'Mars/Olympus' }] }, /^sites\[0\]\.timezone 'Mars\/Olympus' is not an IANA time zone/],
    ['bad window', { ...base, sites: [{ name: 'a', wan: { windows: ['Mon-Fri 08:00-18:00 2 parsecs'] } }] }, /^sites\[0\]\.wan is invalid: .*unit/],
    ['bad default', { ...base, sites: [{ name: 'a', wan: { default: 'fast' } }] }, /^sites\[0\]\.wan is invalid/],
    ['unknown wan key', { ...base, sites: [{ name: 'a', wan: { max: 1 } }] }, /^sites\[0\]\.wan\.max is not a known key/],
    ['negative lease limit', { ...base, sites: [{ name: 'a', wan: { maxWanClients: -1 } }] }, /^sites\[0\]\.wan\.maxWanClients must be a whole number >= 0/],
    ['dp serving unknown site', { ...base, dps: [{ peerId: 'x', serves: ['nowhere'] }] }, /^dps\[0\]\.serves\[0\] 'nowhere' is not a site/],
  ]
  for (const [name, input, message] of cases) {
    it(`refuses ${name}, naming the key`, () => {
      expect(() => createTrackerConfig(input)).toThrow(message)
      try {
        createTrackerConfig(input)
      } catch (err) {
        expect((err as { code: string }).code).toBe('PEERSTAGE_TRACKER_BAD_CONFIG')
      }
    })
  }

  it('says which file, and what YAML broke', () => {
    const dir = tempDir()
    expect(() => readTrackerConfig(join(dir, 'missing.yaml'))).toThrow(/cannot read the tracker config .*missing.yaml: ENOENT/)
    writeFileSync(join(dir, 'bad.yaml'), 'sites: [unclosed\n')
    expect(() => readTrackerConfig(join(dir, 'bad.yaml'))).toThrow(/bad.yaml is not valid YAML/)
    writeFileSync(join(dir, 'key.yaml'), 'adminToken: a\n')
    expect(() => readTrackerConfig(join(dir, 'key.yaml'))).toThrow(/key.yaml: dpToken must be a non-empty string/)
  })
})

describe('tracker config: trust', () => {
  it('reads publisher keys relative to the config file, as manifests name them', () => {
    const dir = tempDir()
    const keys = generatePublisherKeys(join(dir, 'keys'))
    mkdirSync(join(dir, 'etc'))
    writeFileSync(join(dir, 'etc', 'tracker.yaml'), `${ISSUE_YAML}trust: [../keys/publisher.pub, ${keys.publicKeyPath}]\n`)
    expect(readTrackerConfig(join(dir, 'etc', 'tracker.yaml')).trusted).toEqual([keys.publisher])
    expect(readTrackerConfig(join(dir, 'etc', 'tracker.yaml').replace('etc', 'etc/../etc')).trusted).toEqual([keys.publisher])
    expect(createTrackerConfig({ adminToken: 'a', dpToken: 'd' }).trusted).toEqual([])
  })

  it('names the entry and the file it cannot use', () => {
    const dir = tempDir()
    const keys = generatePublisherKeys(join(dir, 'keys'))
    writeFileSync(join(dir, 'junk.pub'), 'not a key\n')
    const base = { adminToken: 'a', dpToken: 'd' }
    const refused = (trust: unknown): string => {
      try {
        createTrackerConfig({ ...base, trust }, { baseDir: dir })
      } catch (err) {
        expect((err as { code: string }).code).toBe('PEERSTAGE_TRACKER_BAD_CONFIG')
        return (err as Error).message
      }
      throw new Error('accepted')
    }
    expect(refused(['keys/publisher.pub', 'x.pub'])).toBe("trust[1] 'x.pub' cannot be read: ENOENT")
    expect(refused(['junk.pub'])).toMatch(/^trust\[0\] 'junk.pub' is not an Ed25519 public key/)
    expect(refused(['keys/publisher.key'])).toMatch(/^trust\[0\] 'keys\/publisher.key' is a private key: give the tracker the publisher's public key/)
    expect(refused('keys/publisher.pub')).toBe('trust must be a list')
    expect(refused([7])).toMatch(/^trust\[0\] must be the path of a publisher public key file/)
    expect(keys.publisher).toMatch(/^ed25519:/)
  })
})

describe('tracker config: parent, link, replicate', () => {
  /** The issue's chain, as users script it: a child declared before its parent is fine. */
  const CHAIN_YAML = `adminToken: a
dpToken: d
sites:
  - name: branch
    subnets: [127.0.2.0/24]
    parent: region
    link: { default: unlimited }
  - name: hub
    subnets: [127.0.10.0/24]
  - name: region
    timezone: Europe/London
    subnets: [127.0.1.0/24]
    parent: hub
    link: { default: 50MiB/s, windows: ["Mon-Fri 08:00-18:00 5MiB/s"] }
    replicate: ["win11@*"]
  - name: shop
    subnets: [127.0.3.0/24]
    parent: region
`

  it('reads the documented shape; no link means unlimited, no replicate means everything', () => {
    const path = join(tempDir(), 'tracker.yaml')
    writeFileSync(path, CHAIN_YAML)
    const c = readTrackerConfig(path)
    const site = (name: string) => c.sites.find((s) => s.name === name)!
    expect(c.sites.map((s) => [s.name, s.parent, s.replicate])).toEqual([['branch', 'region', ['*']], ['hub', undefined, ['*']], ['region', 'hub', ['win11@*']], ['shop', 'region', ['*']]])
    expect(site('hub').link).toBeUndefined()
    expect(site('region').link).toMatchObject({ timeZone: 'Europe/London', defaultRate: 50 * 1024 * 1024 })
    expect(site('region').link!.windows.map((w) => w.text)).toEqual(['Mon-Fri 08:00-18:00 5MiB/s'])
    expect(site('branch').link).toMatchObject({ timeZone: 'UTC', windows: [] })
    expect(site('shop').link).toEqual({ timeZone: 'UTC', defaultRate: undefined, windows: [] })
  })

  const base = { adminToken: 'a', dpToken: 'd' }
  const cases: Array<[string, unknown, RegExp]> = [
    ['an unknown parent', { ...base, sites: [{ name: 'a', parent: 'nowhere' }, { name: 'b' }] }, /^sites\[0\]\.parent 'nowhere' is not a site of this config \(sites: a, b\)/],
    ['a site its own parent', { ...base, sites: [{ name: 'a', parent: 'a' }] }, /^sites\[0\]\.parent 'a' is the site itself/],
    ['a cycle of two', { ...base, sites: [{ name: 'a', parent: 'b' }, { name: 'b', parent: 'a' }] }, /^sites\[0\]\.parent makes a cycle: a → b → a$/],
    ['a cycle above a site', { ...base, sites: [{ name: 'leaf', parent: 'x' }, { name: 'x', parent: 'y' }, { name: 'y', parent: 'z' }, { name: 'z', parent: 'x' }] }, /^sites\[1\]\.parent makes a cycle: x → y → z → x$/],
    ['a parent that is not a name', { ...base, sites: [{ name: 'a', parent: 7 }] }, /^sites\[0\]\.parent must be the name of another site/],
    ['a link without a parent', { ...base, sites: [{ name: 'a', link: { default: '1MiB/s' } }] }, /^sites\[0\]\.link needs a parent/],
    ['a bad link window', { ...base, sites: [{ name: 'a' }, { name: 'b', parent: 'a', link: { windows: ['Mon-Fri 08:00-18:00 2 parsecs'] } }] }, /^sites\[1\]\.link is invalid: .*unit/],
    ['a bad link default', { ...base, sites: [{ name: 'a' }, { name: 'b', parent: 'a', link: { default: 'fast' } }] }, /^sites\[1\]\.link is invalid/],
    ['an unknown link key', { ...base, sites: [{ name: 'a' }, { name: 'b', parent: 'a', link: { maxWanClients: 1 } }] }, /^sites\[1\]\.link\.maxWanClients is not a known key \(expected one of timezone, default, windows\)/],
    ['a link that is not a mapping', { ...base, sites: [{ name: 'a' }, { name: 'b', parent: 'a', link: '5MiB/s' }] }, /^sites\[1\]\.link must be a mapping/],
    ['replicate not a list', { ...base, sites: [{ name: 'a', replicate: 'win11@*' }] }, /^sites\[0\]\.replicate must be NAME@VERSION globs like win11@\*/],
    ['an empty glob', { ...base, sites: [{ name: 'a', replicate: [''] }] }, /^sites\[0\]\.replicate\[0\] must be NAME@VERSION globs like win11@\*/],
    ['a glob that is not a string', { ...base, sites: [{ name: 'a', replicate: ['win11@*', 3] }] }, /^sites\[0\]\.replicate\[1\] must be NAME@VERSION globs like win11@\*/],
    ['a glob without @', { ...base, sites: [{ name: 'a', replicate: ['win11'] }] }, /^sites\[0\]\.replicate\[0\] 'win11' must be NAME@VERSION globs like win11@\*/],
  ]
  for (const [name, input, message] of cases) {
    it(`refuses ${name}, naming the key`, () => {
      let caught: unknown
      try {
        createTrackerConfig(input)
      } catch (err) {
        caught = err
      }
      expect((caught as Error | undefined)?.message).toMatch(message)
      expect((caught as { code: string }).code).toBe('PEERSTAGE_TRACKER_BAD_CONFIG')
    })
  }

  it('globs: * any run of characters, ? one, the rest literally', () => {
    const m = globMatcher(['win11@24H?', 'drivers-*@2026.*', 'a+b@(1)'])
    expect(['win11@24H2', 'drivers-hp@2026.1', 'drivers-@2026.', 'a+b@(1)'].filter(m)).toEqual(['win11@24H2', 'drivers-hp@2026.1', 'drivers-@2026.', 'a+b@(1)'])
    expect(['win11@24H22', 'win11@24H', 'xwin11@24H2', 'drivers-hp@2025.1', 'aab@(1)', 'a+b@1'].filter(m)).toEqual([])
    expect(globMatcher(['*'])('anything@at.all')).toBe(true)
  })
})

describe('CIDR', () => {
  it('canonicalises and matches by longest prefix', () => {
    expect(parseCidr('10.1.2.77/24')!.text).toBe('10.1.2.0/24')
    for (const bad of ['10.1.2/24', '10.1.2.300/24', '10.1.2.0', '10.1.2.0/40', 'x/8']) expect(parseCidr(bad), bad).toBeUndefined()
    const index = new SubnetIndex([[parseCidr('10.0.0.0/8')!, 'wide'], [parseCidr('10.1.2.0/24')!, 'narrow']])
    expect(index.lookup('10.1.2.9')).toBe('narrow')
    expect(index.lookup('10.9.9.9')).toBe('wide')
    expect(index.lookup('::ffff:10.1.2.3')).toBe('narrow')
    expect(index.lookup('11.0.0.1')).toBeUndefined()
    expect(index.lookup('fe80::1')).toBeUndefined()
  })
})
