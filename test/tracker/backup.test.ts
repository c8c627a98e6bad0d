import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { LevelTrackerStore, MemoryTrackerStore, readBackup, RedisTrackerStore, restoreBackup, type TrackerStore } from '../../tracker/index.ts'
import { backupLines } from '../../tracker/store/index.ts'
import { redisMissing, startRedis, type RunningRedis } from '../helpers/redis.ts'
import { tempDir } from '../helpers/tmp.ts'

const opened: TrackerStore[] = []
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()))
})
let redis: RunningRedis | undefined
afterAll(async () => {
  await redis?.stop()
})

const stores: Array<[string, () => Promise<TrackerStore>]> = [
  ['memory', async () => new MemoryTrackerStore()],
  ['level', () => LevelTrackerStore.open(tempDir())],
  ['redis', async () => {
    redis ??= await startRedis({ appendonly: false })
    await redis.command(['FLUSHALL'])
    return RedisTrackerStore.open(redis.url)
  }],
]

const SEED = [
  { type: 'put' as const, kind: 'override' as const, key: 'site:leeds', value: { default: '0' } },
  { type: 'put' as const, kind: 'deployment' as const, key: 'd-1', value: { id: 'd-1', targets: ['site:leeds'] } },
  { type: 'put' as const, kind: 'bytes' as const, key: '127.0.1.0/24 p', value: { wan: 5 } },
]

for (const [name, open] of stores) {
  describe.skipIf(name === 'redis' && redisMissing)(`TrackerStore.dump: ${name}`, () => {
    it('gives every record as of the moment it starts: a batch written meanwhile is wholly absent', async () => {
      const s = await open()
      opened.push(s)
      await s.write(SEED)
      const records = s.dump()[Symbol.asyncIterator]()
      const first = await records.next() // the snapshot is taken by now
      await s.write([
        { type: 'del', kind: 'override', key: 'site:leeds' },
        { type: 'del', kind: 'deployment', key: 'd-1' },
        { type: 'put', kind: 'report', key: 'd-1 peer', value: { state: 'failed' } },
      ])
      const seen = [first.value]
      for (let r = await records.next(); r.done !== true; r = await records.next()) seen.push(r.value)
      expect(seen.map((r) => [r.kind, r.key, JSON.parse(r.json)]).sort()).toEqual(SEED.map((op) => [op.kind, op.key, op.value]).sort())
    })
  })
}

describe('backup file', () => {
  async function backupOf(store: TrackerStore, file: string): Promise<void> {
    let text = ''
    for await (const line of backupLines(store.dump(), Date.now())) text += line
    writeFileSync(file, text)
  }

  it('round-trips every record through readBackup, and restores into a directory a level store opens with the same state', async () => {
    const dir = tempDir()
    const source = new MemoryTrackerStore()
    await source.write([...SEED, { type: 'put', kind: 'manifest', key: 'p', value: '{"format":1,"name":"a \\"quoted\\" name\\n"}' }])
    await backupOf(source, join(dir, 'b.jsonl'))
    const { header, records } = await readBackup(join(dir, 'b.jsonl'))
    expect(header).toMatchObject({ peerstageBackup: 'tracker', format: 1, storeFormat: 1 })
    const read = []
    for await (const r of records) read.push(r)
    expect(read).toHaveLength(4)

    const result = await restoreBackup(join(dir, 'b.jsonl'), join(dir, 'state'))
    expect(result.records).toBe(4)
    const restored = await LevelTrackerStore.open(join(dir, 'state'))
    opened.push(restored)
    for (const kind of ['override', 'deployment', 'bytes', 'manifest'] as const) expect(await restored.list(kind)).toEqual(await source.list(kind))
  })

  it('refuses a backup of a newer backup format or of a newer store format, naming it', async () => {
    const dir = tempDir()
    await backupOf(new MemoryTrackerStore(), join(dir, 'b.jsonl'))
    const [header, ...rest] = readFileSync(join(dir, 'b.jsonl'), 'utf8').split('\n')
    const edited = (edit: Record<string, unknown>): string => {
      const file = join(dir, `edited-${Object.keys(edit)[0]}.jsonl`)
      writeFileSync(file, [JSON.stringify({ ...JSON.parse(header!), ...edit }), ...rest].join('\n'))
      return file
    }
    await expect(readBackup(edited({ format: 2 }))).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_BACKUP', message: expect.stringMatching(/backup of format 2; this peerstage reads format 1/) })
    await expect(readBackup(edited({ storeFormat: 2 }))).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_STORE_FORMAT', message: expect.stringMatching(/holds tracker store format 2/) })
    writeFileSync(join(dir, 'not.jsonl'), '{"hello":"world"}\n')
    await expect(readBackup(join(dir, 'not.jsonl'))).rejects.toMatchObject({ code: 'PEERSTAGE_TRACKER_BAD_BACKUP', message: expect.stringMatching(/not a tracker backup header/) })
  })
})
