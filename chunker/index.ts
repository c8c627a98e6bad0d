/**
 * chunker: FastCDC 2020 content-defined chunking, SHA-256 on worker threads, and the
 * signed package manifest (build, canonical form, sign, parse and check, verify files).
 *
 * ```ts
 * const { manifest, packageId, canonical } = await pack('win11/', { name: 'win11', version: '24H2', privateKey })
 * const report = await verifyDirectory(readManifest('win11@24H2.manifest.json', { trusted }).manifest, 'staged/')
 * ```
 */
export { DEFAULT_CHUNKING, chunkBuffer, createCutter, validateChunkingParams, type ChunkingParams, type Cutter } from './fastcdc.ts'
export { chunkFile, SEGMENT_BYTES, type FileChunks } from './chunk-file.ts'
export { HashPool, type HashPoolInit } from './pool.ts'
export { HASH_BYTES } from './scan.ts'
export { canonicalJson } from './canonical.ts'
export {
  MANIFEST_FORMAT, CHUNKING_ALGORITHM, chunkHash, manifestToJson, packageIdOf, signManifest, signingPayload, totalBytes,
  type ChunkTable, type Manifest, type ManifestChunking, type ManifestFile, type Piece, type Program, type SignedManifest, type UnsignedManifest,
} from './manifest.ts'
export { parseManifest, readManifest, type ParseManifestOptions } from './parse-manifest.ts'
export { generatePublisherKeys, loadPrivateKey, loadPublicKey, publisherOf, type PublisherKeyFiles } from './keys.ts'
export { derivePieces, PIECE_TARGET_BYTES } from './pieces.ts'
export { pack, type PackInit, type PackResult } from './pack.ts'
export { parseProgramSpec, splitCommandLine } from './programs.ts'
export { unsafePathReason } from './paths.ts'
export { findWindowsProblem, windowsCollision, windowsPathProblem, WINDOWS_MAX_PATH } from './windows-names.ts'
export { verifyDirectory, type BadChunk, type FileVerdict, type VerifyInit, type VerifyReport } from './verify.ts'
export { diffManifests, type ManifestDiff } from './diff.ts'
export { ChunkerErrorCodes, type ChunkerErrorCode } from './errors.ts'
