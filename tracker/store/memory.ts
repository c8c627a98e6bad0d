import { addFields } from './add.ts'
import { STORE_KINDS, type StoreKind, type StoreOp, type StoredRecord, type TrackerStore } from './types.ts'

/** A store that lives as long as the process: for tests, benches and throwaway trackers. */
export class MemoryTrackerStore implements TrackerStore {
  private readonly kinds = new Map<StoreKind, Map<string, string>>()

  async write(ops: readonly StoreOp[]): Promise<void> {
    // Serialised like a real store would (nobody keeps a reference into our state), staged so
    // a bad op changes nothing; no await below, so two writes never interleave.
    const staged = new Map<string, { kind: StoreKind, key: string, json: string | undefined }>()
    const read = (kind: StoreKind, key: string): string | undefined => {
      const s = staged.get(`${kind}!${key}`)
      return s !== undefined ? s.json : this.kinds.get(kind)?.get(key)
    }
    for (const op of ops) {
      const json = op.type === 'put' ? JSON.stringify(op.value)
        : op.type === 'add' ? addFields(read(op.kind, op.key), op.value, `${op.kind} ${op.key}`)
          : undefined
      staged.set(`${op.kind}!${op.key}`, { kind: op.kind, key: op.key, json })
    }
    for (const { kind, key, json } of staged.values()) {
      let m = this.kinds.get(kind)
      if (m === undefined) this.kinds.set(kind, m = new Map())
      if (json === undefined) m.delete(key)
      else m.set(key, json)
    }
  }

  async list(kind: StoreKind): Promise<Array<[string, unknown]>> {
    return [...(this.kinds.get(kind) ?? new Map<string, string>()).entries()].map(([k, v]) => [k, JSON.parse(v)])
  }

  async* dump(): AsyncIterable<StoredRecord> {
    // Copied first: no await between here and the copy, so a write cannot land halfway.
    const records = STORE_KINDS.flatMap((kind) => [...(this.kinds.get(kind) ?? new Map<string, string>())].map(([key, json]) => ({ kind, key, json })))
    yield* records
  }

  async close(): Promise<void> {}
}
