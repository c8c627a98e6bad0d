import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { describe, expect, it } from 'vitest'
import { checkStoreFormat, formatMarkText, PEERSTAGE_VERSION, type FormatKeyStore } from '../../common/index.ts'
import { NODE_STORE_FORMAT, Store } from '../../node/index.ts'
import { LevelTrackerStore, RedisTrackerStore, TRACKER_STORE_FORMAT } from '../../tracker/index.ts'
import { peerstage } from '../helpers/cli.ts'
import { packSample, sampleTree } from '../helpers/packages.ts'
import { redisMissing, startRedis } from '../helpers/redis.ts'
import { tempDir } from '../helpers/tmp.ts'

/** A level store at `dir` holding only `key` = `value`, closed again. */
async function levelWith(dir: string, key: string, value: string): Promise<void> {
  const db = new Level<string, string>(dir)
  await db.put(key, value)
  await db.close()
}

async function levelGet(dir: string, key: string): Promise<string | undefined> {
  const db = new Level<string, string>(dir)
  try {
    return await db.get(key)
  } finally {
    await db.close()
  }
}

/** A key-value map standing in for a store, for the generic rules. */
function mapStore(entries: Record<string, string> = {}): FormatKeyStore & { map: Map<string, string> } {
  const map = new Map(Object.entries(entries))
  return { map, get: async (k) => map.get(k), put: async (k, v) => { map.set(k, v) } }
}

const errors = {
  newer: (f: number) => new Error(`newer ${f}`),
  older: (f: number) => new Error(`older ${f}`),
  damaged: (t: string) => new Error(`damaged ${t}`),
}

describe('store format marks (issue 21)', () => {
  it('the version stores are marked with is package.json\'s', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    expect(PEERSTAGE_VERSION).toBe(pkg.version)
  })

  it('an unmarked store is format 1 and gets its mark; a newer one is refused and left as it was', async () => {
    const fresh = mapStore()
    expect(await checkStoreFormat(fresh, { key: 'f', current: 1, writtenBy: 'peerstage test', ...errors })).toBe(1)
    expect(JSON.parse(fresh.map.get('f')!)).toEqual({ format: 1, writtenBy: 'peerstage test' })

    const newer = mapStore({ f: formatMarkText(3, 'peerstage 9.0.0') })
    await expect(checkStoreFormat(newer, { key: 'f', current: 1, writtenBy: 'x', ...errors })).rejects.toThrow('newer 3')
    expect(JSON.parse(newer.map.get('f')!).format).toBe(3)
  })

  it('an older store is migrated step by step, each step followed by its mark; one no step leads on from is refused', async () => {
    const steps: string[] = []
    const migrations = {
      1: async (db: FormatKeyStore) => { steps.push(`1→2 at ${await db.get('f')}`); await db.put('data', 'v2') },
      2: async (db: FormatKeyStore) => { steps.push(`2→3 at ${await db.get('f')}`); await db.put('data', 'v3') },
    }
    const old = mapStore({ data: 'v1' }) // unmarked: format 1
    expect(await checkStoreFormat(old, { key: 'f', current: 3, migrations, writtenBy: 'w', ...errors })).toBe(1)
    expect(steps).toEqual(['1→2 at undefined', `2→3 at ${formatMarkText(2, 'w')}`])
    expect(old.map.get('data')).toBe('v3')
    expect(JSON.parse(old.map.get('f')!).format).toBe(3)

    await expect(checkStoreFormat(mapStore(), { key: 'f', current: 3, migrations: { 2: migrations[2] }, writtenBy: 'w', ...errors })).rejects.toThrow('older 1')
    await expect(checkStoreFormat(mapStore({ f: '{"format":"two"}' }), { key: 'f', current: 1, writtenBy: 'w', ...errors })).rejects.toThrow('damaged')
  })

  it('a node store of a future format is refused with its sentence, unchanged, and its lock released', async () => {
    const dir = join(tempDir(), 'db')
    const future = formatMarkText(NODE_STORE_FORMAT + 1, 'peerstage 9.0.0')
    await levelWith(dir, 'meta:format', future)
    await expect(Store.open(dir)).rejects.toMatchObject({
      code: 'PEERSTAGE_NODE_STORE_FORMAT',
      message: `the node's store ${dir} holds format ${NODE_STORE_FORMAT + 1}, written by a newer peerstage; this one reads format ${NODE_STORE_FORMAT}: run the newer peerstage, or give this one another --data (it will fetch again what it needs)`,
    })
    expect(await levelGet(dir, 'meta:format')).toBe(future)
  })

  it('a node store from before marks opens as format 1, is migrated, and keeps its packages', async () => {
    const dir = tempDir()
    sampleTree(join(dir, 'src'))
    const signed = await packSample(join(dir, 'src'))
    const db = join(dir, 'db')
    let store = await Store.open(db)
    await store.addPackage(signed, join(dir, 'src'), { readOnly: true })
    await store.close()
    // As 0.1.0 left it: no mark.
    const level = new Level<string, string>(db)
    await level.del('meta:format')
    await level.close()
    store = await Store.open(db)
    expect((await store.getPackage(signed.packageId))?.packageId).toBe(signed.packageId)
    await store.close()
    expect(JSON.parse((await levelGet(db, 'meta:format'))!)).toEqual({ format: NODE_STORE_FORMAT, writtenBy: `peerstage ${PEERSTAGE_VERSION}` })
  })

  it('fetch refuses a --data whose store is of a future format, exit 2, one sentence', async () => {
    const dir = tempDir()
    sampleTree(join(dir, 'src'))
    const { canonical } = await packSample(join(dir, 'src'))
    writeFileSync(join(dir, 'm.json'), canonical)
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)
    await levelWith(join(dir, 'data', 'db'), 'meta:format', formatMarkText(NODE_STORE_FORMAT + 1, 'peerstage 9.0.0'))
    const r = await peerstage(['fetch', join(dir, 'm.json'), '--out', join(dir, 'out'), '--data', join(dir, 'data'), '--peer', '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWGRUVh8ZXJ7AUDRrjhCVBvr5EwsgRQJxbuDUHjsDpoRo4', '--swarm-key', join(dir, 'swarm.key')])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^peerstage fetch: the node's store .* holds format ${NODE_STORE_FORMAT + 1}, written by a newer peerstage; this one reads format ${NODE_STORE_FORMAT}: `))])
  })

  it('a tracker store of a future format is refused, by the class and by the tracker command (exit 2, one sentence)', async () => {
    const dir = tempDir()
    const data = join(dir, 'data')
    await levelWith(data, 'meta!format', formatMarkText(TRACKER_STORE_FORMAT + 1, 'peerstage 9.0.0'))
    await expect(LevelTrackerStore.open(data)).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_STORE_FORMAT', details: { format: 2, supported: 1 } })
    writeFileSync(join(dir, 't.yaml'), 'listen: 127.0.10.10:0\nadminToken: a\ndpToken: d\nsites: [{ name: leeds, subnets: [127.0.1.0/24] }]\n')
    const r = await peerstage(['tracker', '--config', join(dir, 't.yaml'), '--data', data])
    expect(r.code).toBe(2)
    expect(r.stderr.trim()).toBe(`peerstage tracker: the state directory ${data} holds tracker store format 2, written by a newer peerstage; this one reads format 1: run the newer peerstage, or give this one another --data`)
    expect(JSON.parse((await levelGet(data, 'meta!format'))!).format).toBe(2)
  })

  it('a tracker store from before marks opens as format 1 and keeps its state', async () => {
    const data = tempDir()
    await levelWith(data, 'override!site:leeds', JSON.stringify({ default: '0' }))
    const store = await LevelTrackerStore.open(data)
    expect(await store.list('override')).toEqual([['site:leeds', { default: '0' }]])
    await store.close()
    expect(JSON.parse((await levelGet(data, 'meta!format'))!).format).toBe(1)
  })

  it('a manifest of a future format is refused by every command that reads one, exit 2, one sentence', async () => {
    const dir = tempDir()
    sampleTree(join(dir, 'src'))
    const { canonical } = await packSample(join(dir, 'src'))
    // The format is read before anything else, the signature included: a newer format may sign otherwise.
    writeFileSync(join(dir, 'm.json'), canonical.replace('"format":1', '"format":2'))
    for (const args of [['inspect', join(dir, 'm.json')], ['verify', join(dir, 'm.json'), join(dir, 'src')]]) {
      const r = await peerstage(args)
      expect(r.code).toBe(2)
      expect(r.stderr.trim()).toMatch(new RegExp(`^peerstage ${args[0]}: .*m\\.json has format 2; this peerstage reads format 1`))
    }
  })
})

describe.skipIf(redisMissing)('store format marks: Redis', () => {
  it('a Redis store is marked on first open, and one of a future format is refused', async () => {
    const redis = await startRedis({ appendonly: false })
    try {
      const store = await RedisTrackerStore.open(redis.url)
      await store.close()
      expect(JSON.parse(await redis.command(['GET', 'peerstage:format'])).format).toBe(TRACKER_STORE_FORMAT)
      await redis.command(['SET', 'peerstage:format', formatMarkText(TRACKER_STORE_FORMAT + 1, 'peerstage 9.0.0')])
      await expect(RedisTrackerStore.open(redis.url)).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_STORE_FORMAT', message: expect.stringContaining('holds tracker store format 2') })
    } finally {
      await redis.stop()
    }
  })
})

