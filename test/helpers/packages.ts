import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { canonicalJson, derivePieces, HASH_BYTES, manifestToJson, pack, signingPayload, type ManifestFile, type PackResult, type Program, type UnsignedManifest } from '../../chunker/index.ts'
import { signBytes } from '../../chunker/keys.ts'
import { pseudoRandomBytes } from './tmp.ts'

export function testKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey
}

/** Writes files (path → bytes) under dir. */
export function writeTree(dir: string, files: Record<string, Uint8Array | string>): void {
  for (const [path, data] of Object.entries(files)) {
    const abs = join(dir, ...path.split('/'))
    mkdirSync(dirname(abs), { recursive: true })
    writeFileSync(abs, data)
  }
}

/** A small directory package: nested paths, an empty file, a multi-chunk file. */
export function sampleTree(dir: string): Record<string, Buffer> {
  const files = {
    'install.wim': pseudoRandomBytes(3_000_000, 21),
    'drivers/net/e1000.inf': Buffer.from('[Version]\nSignature="$Windows NT$"\n'),
    'drivers/net/e1000.sys': pseudoRandomBytes(300_000, 22),
    'drivers/empty.cat': Buffer.alloc(0),
    'setup.cmd': Buffer.from('@echo off\r\n'),
  }
  writeTree(dir, files)
  return files
}

export async function packSample(dir: string, key = testKey()): Promise<PackResult & { key: KeyObject }> {
  const result = await pack(dir, { name: 'win11', version: '24H2', privateKey: key, programs: [{ name: 'install', command: 'setup.cmd', args: ['/unattend'] }] })
  return { ...result, key }
}

/**
 * The manifest's JSON value, changed by `edit` and signed again with `key`: a manifest a
 * publisher really signed, so that only the check under test can reject it.
 */
export function resigned(json: Record<string, unknown>, key: KeyObject, edit: (m: Record<string, any>) => void): string {
  const copy = structuredClone(json) as Record<string, any>
  edit(copy)
  copy.signature = signBytes(key, signingPayload(copy))
  return canonicalJson(copy)
}

export function jsonOf(result: PackResult): Record<string, unknown> {
  return manifestToJson(result.manifest)
}

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
