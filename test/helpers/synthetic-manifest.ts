import { derivePieces, HASH_BYTES, type ManifestFile, type Program, type UnsignedManifest } from '../../chunker/index.ts'
import { pseudoRandomBytes } from './random.ts'

/**
 * A synthetic package of `count` chunks (16–112 KiB) over `fileCount` files
 * (`images/part-N.vhdx`): the table is made, not chunked, and the files need not exist.
 */
export function syntheticManifest(count: number, fileCount: number, programs: Program[] = []): UnsignedManifest {
  const sizes = new Uint32Array(count)
  const noise = pseudoRandomBytes(count * 2, count)
  for (let i = 0; i < count; i++) sizes[i] = 16384 + (noise.readUInt16LE(i * 2) % (96 * 1024))
  const hashes = new Uint8Array(pseudoRandomBytes(count * HASH_BYTES, count + 1))
  const files: ManifestFile[] = []
  for (let f = 0, first = 0; f < fileCount; f++) {
    const chunkCount = Math.floor(count / fileCount) + (f < count % fileCount ? 1 : 0)
    let size = 0
    for (let k = first; k < first + chunkCount; k++) size += sizes[k]!
    files.push({ path: `images/part-${f}.vhdx`, size, mode: 0o644, firstChunk: first, chunkCount })
    first += chunkCount
  }
  return {
    format: 1, name: 'big', version: '1', createdAt: new Date(Date.now()).toISOString(),
    chunking: { algorithm: 'fastcdc-2020', min: 16384, avg: 65536, max: 262144, normalization: 2 },
    files, chunks: { count, sizes, hashes }, pieces: derivePieces(files, sizes), programs,
  }
}
