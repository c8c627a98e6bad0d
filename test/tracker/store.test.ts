import { describe, expect, it } from 'vitest'
import { LevelTrackerStore, MemoryTrackerStore, type TrackerStore } from '../../tracker/index.ts'
import { tempDir } from '../helpers/tmp.ts'

/** One suite, run against every TrackerStore. */
const stores: Array<[string, () => Promise<TrackerStore>]> = [
  ['memory', async () => new MemoryTrackerStore()],
  ['level', () => LevelTrackerStore.open(tempDir())],
]

for (const [name, open] of stores) {
  describe(`TrackerStore: ${name}`, () => {
    it('puts, overwrites, deletes and lists by kind', async () => {
      const s = await open()
      await s.write([
        { type: 'put', kind: 'registration', key: 'a', value: { n: 1 } },
        { type: 'put', kind: 'registration', key: 'b', value: { n: 2 } },
        { type: 'put', kind: 'lease', key: '127.0.1.0/24 x a', value: { ok: true } },
        { type: 'put', kind: 'registration', key: 'a', value: { n: 3 } },
        { type: 'del', kind: 'registration', key: 'b' },
      ])
      expect(await s.list('registration')).toEqual([['a', { n: 3 }]])
      expect(await s.list('lease')).toEqual([['127.0.1.0/24 x a', { ok: true }]])
      expect(await s.list('override')).toEqual([])
      await s.close()
    })

    it('keeps no reference to what it was given', async () => {
      const s = await open()
      const value = { n: 1 }
      await s.write([{ type: 'put', kind: 'bytes', key: 'k', value }])
      value.n = 2
      expect(await s.list('bytes')).toEqual([['k', { n: 1 }]])
      await s.close()
    })

    it('an empty batch is a no-op', async () => {
      const s = await open()
      await s.write([])
      expect(await s.list('registration')).toEqual([])
      await s.close()
    })
  })
}

describe('LevelTrackerStore', () => {
  it('keeps everything across a reopen', async () => {
    const dir = tempDir()
    const a = await LevelTrackerStore.open(dir)
    await a.write([{ type: 'put', kind: 'override', key: 'site:leeds', value: { default: '0' } }])
    await a.close()
    const b = await LevelTrackerStore.open(dir)
    expect(await b.list('override')).toEqual([['site:leeds', { default: '0' }]])
    await b.close()
  })
})
