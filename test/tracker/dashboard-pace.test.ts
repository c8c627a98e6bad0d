import { describe, expect, it } from 'vitest'

// The page's own module, as the browser runs it (plain JS: imported by URL, untyped).
const { pace } = await import(new URL('../../tracker/dashboard/assets/deployments.js', import.meta.url).href)
const { duration } = await import(new URL('../../tracker/dashboard/assets/fmt.js', import.meta.url).href)

const MB = 1_000_000
const client = (state: string, progress: number) => ({ state, progress })
const site = (...clients: Array<{ state: string, progress: number }>) => ({ name: 'leeds', subnets: [{ subnet: '10.1.1.0/24', clients }] })

describe('the deployments view: is a site behind its mandatory time?', () => {
  it('measures a site\'s rate between two polls and warns when it will not finish before mandatoryAt', () => {
    const now = Date.now()
    const d = (id: string, mandatoryInMs: number) => ({ id, availableAt: new Date(now - 60_000).toISOString(), mandatoryAt: new Date(now + mandatoryInMs).toISOString() })
    // 2 clients of a 100 MB package gain 1 MB in 10 s: 100 kB/s, 194 MB to go, 1,940 s.
    for (const [id, mandatoryInMs, behind] of [['late', 600_000, true], ['fine', 7_200_000, false]] as const) {
      expect(pace(d(id, mandatoryInMs), site(client('downloading', 0.02), client('downloading', 0.03)), 100 * MB, now)).toMatchObject({ note: 'measuring…', done: 5 * MB, total: 200 * MB })
      const p = pace(d(id, mandatoryInMs), site(client('downloading', 0.025), client('downloading', 0.035)), 100 * MB, now + 10_000)
      expect(p.behind === true, p.note).toBe(behind)
      expect(p.note).toMatch(behind ? /^BEHIND: at 97\.7 KiB\/s it needs 32 min, mandatoryAt is in 10 min$/ : /^on time: at 97\.7 KiB\/s done in 32 min$/)
    }
    expect(pace(d('stuck', 600_000), site(client('downloading', 0.5)), MB, now).note).toBe('measuring…')
    expect(pace(d('stuck', 600_000), site(client('downloading', 0.5)), MB, now + 2000)).toMatchObject({ behind: true, note: 'BEHIND: no progress since the last poll, 10 min to mandatoryAt' })
    expect(pace(d('passed', -1000), site(client('failed', 0.1)), MB, now)).toMatchObject({ behind: true, note: 'BEHIND: mandatoryAt has passed and clients still lack the package' })
    expect(pace(d('done', 600_000), site(client('verified', 0.2), client('succeeded', 0)), MB, now)).toMatchObject({ note: 'all clients have the package', done: 2 * MB })
  })

  it('writes durations in whole units', () => {
    expect([duration(45_000), duration(600_000), duration(7_199_000), duration(3 * 86_400_000 + 5 * 3_600_000)]).toEqual(['45 s', '10 min', '1 h 59 min', '3 d 5 h'])
  })
})
