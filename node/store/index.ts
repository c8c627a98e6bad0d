/**
 * The node's chunk store: files written in place at piece offsets, and in `level` the
 * manifests, have-bitfields (saved only after the piece's bytes are flushed), each file's
 * size and mtime at that flush (a file changed since is re-hashed on reopen) and a chunk
 * index for reuse across versions.
 */
export { Store } from './store.ts'
export { StoredPackage, STORE_DEFAULTS, type ChunkLocation, type StoredManifest, type StoreInit } from './package.ts'
export { dataDirError, StoreErrorCodes } from './errors.ts'
export { Bitfield } from './bitfield.ts'
export { readExactly } from './package-files.ts'
export { piecesHolding } from './recheck.ts'
export { NODE_STORE_FORMAT } from './format.ts'
