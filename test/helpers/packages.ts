import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { canonicalJson, manifestToJson, pack, signingPayload, type PackResult } from '../../chunker/index.ts'
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

