import type { ManifestFile, Piece } from './manifest.ts'

/** Pieces close once they reach this many bytes: 2 MiB to 2 MiB + one chunk. */
export const PIECE_TARGET_BYTES = 2 * 1024 * 1024

/**
 * Cuts each file's chunks into pieces, greedily, at chunk boundaries: deterministic, so
 * every packer of the same files finds the same pieces. A file's last piece may be short.
 */
export function derivePieces(files: readonly ManifestFile[], sizes: Uint32Array, targetBytes = PIECE_TARGET_BYTES): Piece[] {
  const pieces: Piece[] = []
  files.forEach((f, file) => {
    let first = f.firstChunk
    let offset = 0
    let length = 0
    const end = f.firstChunk + f.chunkCount
    for (let k = f.firstChunk; k < end; k++) {
      length += sizes[k]
      if (length >= targetBytes || k === end - 1) {
        pieces.push({ file, offset, length, firstChunk: first, chunkCount: k + 1 - first })
        offset += length
        length = 0
        first = k + 1
      }
    }
  })
  return pieces
}
