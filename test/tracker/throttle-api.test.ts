import { afterEach, describe, expect, it } from 'vitest'
import { createTrackerConfig, MemoryTrackerStore, Tracker, type TrackerStore } from '../../tracker/index.ts'
import { CONFIG, serveTracker } from './helpers.ts'

const stops: Array<() => Promise<void>> = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
})

/** A real tracker server of `config` on 127.0.10.10; returns its URL. */
async function serve(config: unknown = CONFIG, store: TrackerStore = new MemoryTrackerStore()): Promise<string> {
  const tracker = await Tracker.start(createTrackerConfig(config), { store })
  const { app, url } = await serveTracker(tracker)
  stops.push(async () => {
    await app.close()
    await tracker.stop()
  })
  return url
}

async function call(url: string, method: string, body?: unknown): Promise<{ status: number, json: any }> {
  const query = method === 'GET' ? `?${new URLSearchParams(body as Record<string, string>)}` : ''
  const res = await fetch(`${url}/v1/throttle${query}`, {
    method,
    headers: { 'authorization': 'Bearer admin-s3cret', ...(method !== 'GET' && { 'content-type': 'application/json' }) },
    ...(method !== 'GET' && { body: JSON.stringify(body) }),
  })
  return { status: res.status, json: await res.json() }
}

/** Both forms, as README's "Bandwidth" section and the tracker config take them. */
const WINDOWS = [{ days: 'Mon-Fri', from: '08:00', to: '18:00', rate: '1Mbit/s' }, 'Mon-Fri 12:00-13:00 0', { days: 'Sat,Sun', rate: 0 }]

describe('PUT /v1/throttle windows', () => {
  it('takes the object form {days, from, to, rate} as the config does (the API refused it)', async () => {
    const url = await serve()
    const set = await call(url, 'PUT', { site: 'leeds', windows: WINDOWS })
    expect(set.status, JSON.stringify(set.json)).toBe(200)
    expect(set.json).toMatchObject({ site: 'leeds', override: { windows: WINDOWS } })
    expect(set.json.effective.windows).toEqual(['Mon-Fri 08:00-18:00 1Mbit/s', 'Mon-Fri 12:00-13:00 0', 'Sat,Sun 0'])

    // The same windows written in the config file: the same effective rules.
    const leeds = CONFIG.sites.find((s) => s.name === 'leeds')!
    const configured = await serve({ ...CONFIG, sites: CONFIG.sites.map((s) => (s === leeds ? { ...s, wan: { ...s.wan, windows: WINDOWS } } : s)) })
    expect((await call(configured, 'GET', { site: 'leeds' })).json.effective).toEqual(set.json.effective)
  })

  it('keeps an object-form override across a restart', async () => {
    const store = new MemoryTrackerStore()
    const url = await serve(CONFIG, store)
    expect((await call(url, 'PUT', { subnet: '127.0.2.0/24', windows: [{ from: '22:00', to: '06:00', rate: '50MiB/s' }] })).status).toBe(200)
    await stops.pop()!()
    const again = await serve(CONFIG, store)
    expect((await call(again, 'GET', { subnet: '127.0.2.0/24' })).json.effective.windows).toEqual(['22:00-06:00 50MiB/s'])
  })

  it('refuses a bad object-form window with the config\'s message, naming the window and the scope', async () => {
    const url = await serve()
    const cases: Array<[unknown, RegExp]> = [
      [{ days: 'Mon-Fry', rate: '1MB/s' }, /unknown day 'Fry' in window 1 of the site leeds/],
      [{ days: 'Mon-Fri', from: '08:00', to: '18:00' }, /a window needs a rate in window 1 of the site leeds/],
      [{ day: 'Mon-Fri', rate: '1MB/s' }, /unknown key 'day' \(expected days, from, to, rate\) in window 1 of the site leeds/],
      [{ days: 5, rate: '1MB/s' }, /days must be a string like 'Mon-Fri' in window 1 of the site leeds/],
      [{ days: 'Mon', from: '08:00', rate: '1MB/s' }, /needs both from and to/],
      [['Mon-Fri', '1MB/s'], /must match a schema in anyOf/],
    ]
    for (const [window, message] of cases) {
      const r = await call(url, 'PUT', { site: 'leeds', windows: ['Sat-Sun unlimited', window] })
      expect(r.status, JSON.stringify(window)).toBe(400)
      expect(r.json.error.code).toBe('PEERSTAGE_TRACKER_BAD_REQUEST')
      expect(r.json.error.message.replace('window 2', 'window 1'), JSON.stringify(window)).toMatch(message)
    }
    expect((await call(url, 'GET', { site: 'leeds' })).json.override).toBeNull()
  })

  it('refuses a rate above 1 Tbit/s such as 99999999999999999999999GiB/s (it was accepted)', async () => {
    const url = await serve()
    const huge = await call(url, 'PUT', { site: 'leeds', default: '99999999999999999999999GiB/s' })
    expect(huge.status).toBe(400)
    expect(huge.json.error.code).toBe('PEERSTAGE_TRACKER_BAD_REQUEST')
    expect(huge.json.error.message).toContain("the default rate of the site leeds '99999999999999999999999GiB/s' is above the ceiling of 1 Tbit/s (125 GB/s): write a lower rate, or unlimited for no limit")
    const window = await call(url, 'PUT', { site: 'leeds', windows: [{ days: 'Mon-Fri', rate: '2000Gbit/s' }] })
    expect(window.status).toBe(400)
    expect(window.json.error.message).toContain("the rate of window 1 of the site leeds '2000Gbit/s' is above the ceiling of 1 Tbit/s")
    expect((await call(url, 'PUT', { site: 'leeds', default: 'unlimited' })).json.effective.default).toBeNull()
  })
})
