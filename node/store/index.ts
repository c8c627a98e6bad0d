/**
 * The node's chunk store: files written in place at piece offsets, and in `level` the
 * manifests, have-bitfields (saved only after the piece's bytes are flushed) and a chunk
 * index for reuse across versions.
 */
export { Store, StoredPackage, StoreErrorCodes, type ChunkLocation } from './store.ts'
export { Bitfield } from './bitfield.ts'
export { readExactly } from './package-files.ts'
