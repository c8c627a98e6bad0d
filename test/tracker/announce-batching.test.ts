import { describe, expect, it } from 'vitest'
import { BatchWriter } from '../../tracker/batch-writer.ts'
import { MemoryTrackerStore, type StoreOp } from '../../tracker/index.ts'
import { announceOf, peerId, PKG, trackerAt } from './helpers.ts'

/** Keeps each batch the tracker wrote. */
class RecordingStore extends MemoryTrackerStore {
  readonly batches: StoreOp[][] = []
  /** While set, a write is stored only once it resolves. */
  gate: Promise<void> | undefined
  override async write(ops: readonly StoreOp[]): Promise<void> {
    this.batches.push([...ops])
    await this.gate
    return super.write(ops)
  }
}

const nextTick = () => new Promise((resolve) => setImmediate(resolve))

/** A client's announce of PKG reporting these cumulative byte counters. */
const withBytes = (id: string, lan: number, wan: number) => ({ ...announceOf(id, 'client', 1), packages: [{ id: PKG, have: 1, pieces: 10, bytes: { lan, wan } }] })

describe('one tick of announces, one batch', () => {
  it('folds the byte counts of a subnet and package into one add per batch, and stores their sum', async () => {
    const store = new RecordingStore()
    const { tracker } = await trackerAt(undefined, store)
    const a = peerId()
    const b = peerId()
    await Promise.all([tracker.announce(withBytes(a, 100, 10), '127.0.1.1'), tracker.announce(withBytes(b, 50, 5), '127.0.1.2')])
    const batch = store.batches.at(-1)!
    expect(batch.filter((op) => op.type === 'add')).toEqual([{ type: 'add', kind: 'bytes', key: `127.0.1.0/24 ${PKG}`, value: { lan: 150, wan: 15 } }])
    expect(batch.filter((op) => op.kind === 'registration')).toHaveLength(2)
    expect(await store.list('bytes')).toEqual([[`127.0.1.0/24 ${PKG}`, { lan: 150, wan: 15 }]])
    await tracker.stop()
  })

  it('never folds an add across a put or del of the same key', async () => {
    const store = new RecordingStore()
    const writer = new BatchWriter(store)
    const key = 'k'
    await Promise.all([
      writer.write([{ type: 'add', kind: 'bytes', key, value: { lan: 1 } }]),
      writer.write([{ type: 'del', kind: 'bytes', key }]),
      writer.write([{ type: 'add', kind: 'bytes', key, value: { lan: 2 } }, { type: 'add', kind: 'bytes', key, value: { lan: 4, wan: 1 } }]),
    ])
    expect(store.batches).toEqual([[
      { type: 'add', kind: 'bytes', key, value: { lan: 1 } },
      { type: 'del', kind: 'bytes', key },
      { type: 'add', kind: 'bytes', key, value: { lan: 6, wan: 1 } },
    ]])
    expect(await store.list('bytes')).toEqual([[key, { lan: 6, wan: 1 }]])
  })

  it('takes what was written while a batch was being stored as the next batch, whatever the ticks', async () => {
    const store = new RecordingStore()
    let release!: () => void
    store.gate = new Promise((resolve) => { release = resolve })
    const writer = new BatchWriter(store)
    const op = (key: string): StoreOp => ({ type: 'put', kind: 'registration', key, value: {} })
    const writes = [writer.write([op('a')])]
    for (const key of ['b', 'c', 'd']) {
      await nextTick()
      writes.push(writer.write([op(key)]))
    }
    release()
    await Promise.all(writes)
    expect(store.batches.map((b) => b.map((o) => o.key))).toEqual([['a'], ['b', 'c', 'd']])
  })
})
