import type { StoreKind, StoreOp, TrackerStore } from './types.ts'

/** A store that lives as long as the process: for tests, benches and throwaway trackers. */
export class MemoryTrackerStore implements TrackerStore {
  private readonly kinds = new Map<StoreKind, Map<string, string>>()

  async write(ops: readonly StoreOp[]): Promise<void> {
    // Serialise like a real store would, so nobody keeps a reference into our state.
    const staged = ops.map((op) => (op.type === 'put' ? { ...op, json: JSON.stringify(op.value) } : op))
    for (const op of staged) {
      let m = this.kinds.get(op.kind)
      if (m === undefined) this.kinds.set(op.kind, m = new Map())
      if (op.type === 'put') m.set(op.key, (op as { json: string }).json)
      else m.delete(op.key)
    }
  }

  async list(kind: StoreKind): Promise<Array<[string, unknown]>> {
    return [...(this.kinds.get(kind) ?? new Map<string, string>()).entries()].map(([k, v]) => [k, JSON.parse(v)])
  }

  async close(): Promise<void> {}
}
