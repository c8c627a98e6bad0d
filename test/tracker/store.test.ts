import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { LevelTrackerStore, MemoryTrackerStore, RedisTrackerStore, type TrackerStore, type WrittenBatch } from '../../tracker/index.ts'
import { redisMissing, startRedis, type RunningRedis } from '../helpers/redis.ts'
import { tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'

/** Stores a test opened, closed after it whether it passed or not. */
const opened: TrackerStore[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()))
})
function track<S extends TrackerStore>(s: S): S {
  opened.push(s)
  return s
}

/** One redis-server for the shared suite, started by its first test; each test starts from an empty Redis. */
let suiteRedis: RunningRedis | undefined
afterAll(async () => {
  await suiteRedis?.stop()
})

/** One suite, run against every TrackerStore. */
const stores: Array<[string, () => Promise<TrackerStore>]> = [
  ['memory', async () => new MemoryTrackerStore()],
  ['level', () => LevelTrackerStore.open(tempDir())],
  ['redis', async () => {
    suiteRedis ??= await startRedis({ appendonly: false })
    await suiteRedis.command(['FLUSHALL'])
    return RedisTrackerStore.open(suiteRedis.url)
  }],
]

for (const [name, open] of stores) {
  describe.skipIf(name === 'redis' && redisMissing)(`TrackerStore: ${name}`, () => {
    it('puts, overwrites, deletes and lists by kind', async () => {
      const s = track(await open())
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
    })

    it('keeps no reference to what it was given', async () => {
      const s = track(await open())
      const value = { n: 1 }
      await s.write([{ type: 'put', kind: 'bytes', key: 'k', value }])
      value.n = 2
      expect(await s.list('bytes')).toEqual([['k', { n: 1 }]])
    })

    it('an empty batch is a no-op', async () => {
      const s = track(await open())
      await s.write([])
      expect(await s.list('registration')).toEqual([])
    })

    it('adds to fields, a missing record or field counting as 0, keeping the other fields', async () => {
      const s = track(await open())
      await s.write([{ type: 'add', kind: 'bytes', key: 'new', value: { wan: 2 } }])
      await s.write([
        { type: 'add', kind: 'bytes', key: 'new', value: { wan: 3, lan: 1 } },
        { type: 'put', kind: 'bytes', key: 'kept', value: { wan: 5, name: 'leeds', nested: { deep: [1, 'x', null, true] } } },
        { type: 'add', kind: 'bytes', key: 'kept', value: { wan: -1 } },
        { type: 'put', kind: 'bytes', key: 'gone', value: { wan: 9 } },
        { type: 'del', kind: 'bytes', key: 'gone' },
        { type: 'add', kind: 'bytes', key: 'gone', value: { wan: 1 } },
      ])
      expect(new Map(await s.list('bytes'))).toEqual(new Map<string, unknown>([
        ['new', { wan: 5, lan: 1 }],
        ['kept', { wan: 4, name: 'leeds', nested: { deep: [1, 'x', null, true] } }],
        ['gone', { wan: 1 }],
      ]))
    })

    it('adds exactly up to 2^53', async () => {
      const s = track(await open())
      await s.write([{ type: 'add', kind: 'bytes', key: 'k', value: { a: 2 ** 52, b: 2 ** 53 - 1, c: 0.1 } }])
      await s.write([{ type: 'add', kind: 'bytes', key: 'k', value: { a: 1, b: 1, c: 0.2 } }])
      expect(await s.list('bytes')).toEqual([['k', { a: 2 ** 52 + 1, b: 2 ** 53, c: 0.1 + 0.2 }]])
    })

    it('a batch whose add meets a field that is not a number changes nothing', async () => {
      const s = track(await open())
      await s.write([{ type: 'put', kind: 'bytes', key: 'k', value: { name: 'leeds' } }])
      await expect(s.write([
        { type: 'put', kind: 'bytes', key: 'other', value: { n: 1 } },
        { type: 'add', kind: 'bytes', key: 'k', value: { name: 1 } },
      ])).rejects.toThrow(/not a number/)
      expect(await s.list('bytes')).toEqual([['k', { name: 'leeds' }]])
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

describe('RedisTrackerStore: URLs', () => {
  it('a URL that is not redis:// is BAD_CONFIG, naming it', async () => {
    await expect(RedisTrackerStore.open('http://127.0.0.1:6379/0')).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_CONFIG', message: expect.stringContaining('http://127.0.0.1:6379/0') })
  })

  it('a port nothing listens on is STORE_UNAVAILABLE, naming the URL', async () => {
    await expect(RedisTrackerStore.open('redis://127.0.0.1:1/0')).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_STORE_UNAVAILABLE', message: expect.stringContaining('redis://127.0.0.1:1/0') })
  })
})

describe.skipIf(redisMissing)('RedisTrackerStore: replicas sharing one Redis', () => {
  let redis: RunningRedis
  beforeAll(async () => {
    redis = await startRedis()
  })
  afterAll(async () => {
    await redis?.stop()
  })
  const openTwo = async (): Promise<[RedisTrackerStore, RedisTrackerStore]> => {
    await redis.command(['FLUSHALL'])
    return [track(await RedisTrackerStore.open(redis.url)), track(await RedisTrackerStore.open(redis.url))]
  }
  const slot = (peerId: string): { subnet: string, packageId: string, peerId: string } => ({ subnet: '127.0.1.0/24', packageId: 'pkg', peerId })

  it('a batch one replica writes reaches the other in seq order, with the writer\'s id', async () => {
    const [a, b] = await openTwo()
    expect(a.replicaId).not.toBe(b.replicaId)
    const seen: WrittenBatch[] = []
    await b.subscribe({ batch: (x) => seen.push(x), interrupted: () => { throw new Error('not interrupted') } })
    const ops = [
      [{ type: 'put', kind: 'registration', key: 'p1', value: { subnet: '127.0.1.0/24' } }],
      [{ type: 'add', kind: 'bytes', key: 'k', value: { wan: 7 } }, { type: 'del', kind: 'registration', key: 'p1' }],
      [{ type: 'put', kind: 'lease', key: '127.0.1.0/24 pkg p1', value: { expiresAt: 5 } }],
    ] as const
    for (const batch of ops) await a.write(batch)
    await until(() => seen.length === 3, 'three batches at b', 5000)
    expect(seen.map((x) => x.seq)).toEqual([1, 2, 3])
    expect(seen.every((x) => x.replica === a.replicaId)).toBe(true)
    expect(seen.map((x) => x.ops)).toEqual(ops)
  })

  it('a gap in seq tells the subscriber it missed batches', async () => {
    const [a, b] = await openTwo()
    const events: string[] = []
    await b.subscribe({ batch: (x) => events.push(`batch ${x.seq}`), interrupted: () => events.push('interrupted') })
    await a.write([{ type: 'put', kind: 'registration', key: 'p1', value: {} }])
    await redis.command(['PUBLISH', 'peerstage:batches', JSON.stringify({ seq: 5, replica: 'elsewhere', ops: [] })])
    await until(() => events.length === 3, 'two batches at b', 5000)
    expect(events).toEqual(['batch 1', 'interrupted', 'batch 5'])
  })

  it('a snapshot holds every kind and the seq of the last batch', async () => {
    const [a, b] = await openTwo()
    await a.write([{ type: 'put', kind: 'deployment', key: 'd1', value: { id: 'd1' } }])
    await b.write([{ type: 'add', kind: 'bytes', key: 'k', value: { lan: 3 } }, { type: 'put', kind: 'override', key: 'site:leeds', value: { default: '0' } }])
    const snap = await a.snapshot()
    expect(snap.seq).toBe(2)
    expect(snap.kinds.get('deployment')).toEqual([['d1', { id: 'd1' }]])
    expect(snap.kinds.get('bytes')).toEqual([['k', { lan: 3 }]])
    expect(snap.kinds.get('override')).toEqual([['site:leeds', { default: '0' }]])
    expect(snap.kinds.get('registration')).toEqual([])
  })

  it('acquireLease grants up to the limit, renews a holder, and frees the places of expired and deleted leases', async () => {
    const [a] = await openTwo()
    const lease = (peer: string, expiresAt: number) => ({ type: 'put' as const, kind: 'lease' as const, key: `127.0.1.0/24 pkg ${peer}`, value: { peerId: peer, expiresAt } })
    expect(await a.acquireLease(slot('p1'), 2, 1000, 100)).toBe(true)
    expect(await a.acquireLease(slot('p2'), 2, 1000, 100)).toBe(true)
    expect(await a.acquireLease(slot('p3'), 2, 1000, 100)).toBe(false)
    await a.write([lease('p1', 1100), lease('p2', 1100)])
    expect(await a.acquireLease(slot('p1'), 2, 1050, 100)).toBe(true)
    await a.write([lease('p1', 1150)])
    expect(await a.acquireLease(slot('p3'), 2, 1050, 100)).toBe(false)
    // p2 expires at 1100: its place and its record go.
    expect(await a.acquireLease(slot('p3'), 2, 1100, 100)).toBe(true)
    expect((await a.list('lease')).map(([k]) => k)).toEqual(['127.0.1.0/24 pkg p1'])
    expect(await a.acquireLease(slot('p4'), 2, 1100, 100)).toBe(false)
    await a.write([{ type: 'del', kind: 'lease', key: '127.0.1.0/24 pkg p1' }])
    expect(await a.acquireLease(slot('p4'), 2, 1100, 100)).toBe(true)
  })

  it('two replicas asking at once for 10 peers, limit 3: exactly 3 granted', async () => {
    const [a, b] = await openTwo()
    const granted = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).acquireLease(slot(`p${i}`), 3, 1000, 60_000)))
    expect(granted.filter(Boolean)).toHaveLength(3)
  })

  it('while Redis is down writes fail fast; once it is back they work by themselves, subscribers are told once, and nothing written is lost', async () => {
    const [a, b] = await openTwo()
    let interrupted = 0
    const seen: WrittenBatch[] = []
    await b.subscribe({ batch: (x) => seen.push(x), interrupted: () => interrupted++ })
    await a.write([{ type: 'put', kind: 'deployment', key: 'd1', value: { id: 'd1' } }])
    await until(() => seen.length === 1, 'the first batch at b', 5000)

    await redis.kill()
    const started = Date.now()
    await expect(a.write([{ type: 'put', kind: 'deployment', key: 'd2', value: { id: 'd2' } }])).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_STORE_UNAVAILABLE' })
    expect(Date.now() - started).toBeLessThan(3000)

    await redis.restart()
    let written = false
    const writeAgain = (): void => {
      a.write([{ type: 'put', kind: 'deployment', key: 'd3', value: { id: 'd3' } }]).then(() => { written = true }, () => {})
    }
    await until(() => {
      if (!written) writeAgain()
      return written && interrupted === 1
    }, 'a write after the restart, and b told', 10_000)
    await until(() => seen.some((x) => x.ops.some((op) => op.key === 'd3')), 'the batch after the restart at b', 5000)
    expect(interrupted).toBe(1)
    expect((await b.list('deployment')).map(([k]) => k).sort()).toEqual(['d1', 'd3'])
  })

  it('a feed whose link goes silent (no reset) is found by its heartbeat and reloaded', async () => {
    const [a] = await openTwo()
    let interrupted = 0
    await a.subscribe({ batch: () => {}, interrupted: () => interrupted++ })
    // Redis answers nobody for 8 s, as behind a dead link: the ping times out, the feed reconnects once it answers.
    await redis.command(['CLIENT', 'PAUSE', '8000', 'ALL'])
    await until(() => interrupted === 1, 'the feed to be told it was cut', 20_000)
  }, 30_000)
})
