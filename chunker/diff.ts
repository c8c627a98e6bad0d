import { HASH_BYTES } from './scan.ts'
import type { ChunkTable, Manifest } from './manifest.ts'

export interface ManifestDiff {
  /** Bytes of the new version. */
  totalBytes: number
  /** Bytes of the new version whose chunks the old one already has. */
  reusedBytes: number
  /** Bytes a holder of the old version must still fetch (each distinct new chunk once). */
  fetchBytes: number
  reusedChunks: number
  fetchChunks: number
  /** reusedBytes / totalBytes, 0..1 (1 for an empty package). */
  reuseRatio: number
}

/** Chunk i's digest as a compact string key. */
function hashKeys(table: ChunkTable): (i: number) => string {
  const buf = Buffer.from(table.hashes.buffer, table.hashes.byteOffset, table.hashes.byteLength)
  return (i) => buf.toString('latin1', i * HASH_BYTES, (i + 1) * HASH_BYTES)
}

function hashSet(table: ChunkTable): Set<string> {
  const key = hashKeys(table)
  const set = new Set<string>()
  for (let i = 0; i < table.count; i++) set.add(key(i))
  return set
}

/** What a site holding `older` must fetch to hold `newer`: chunk reuse across versions. */
export function diffManifests(older: Manifest, newer: Manifest): ManifestDiff {
  const have = hashSet(older.chunks)
  const fetched = new Set<string>()
  const { sizes, count } = newer.chunks
  const keyOf = hashKeys(newer.chunks)
  let totalBytes = 0
  let reusedBytes = 0
  let fetchBytes = 0
  let reusedChunks = 0
  for (let i = 0; i < count; i++) {
    const key = keyOf(i)
    totalBytes += sizes[i]
    if (have.has(key)) {
      reusedBytes += sizes[i]
      reusedChunks++
    } else if (!fetched.has(key)) {
      fetched.add(key)
      fetchBytes += sizes[i]
    }
  }
  return { totalBytes, reusedBytes, fetchBytes, reusedChunks, fetchChunks: fetched.size, reuseRatio: totalBytes === 0 ? 1 : reusedBytes / totalBytes }
}
