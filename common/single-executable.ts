import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { getAsset, getAssetKeys, isSea } from 'node:sea'

/**
 * What the CLI needs when it runs as the single executable (`npm run build:binary`,
 * scripts/build-binary.ts): there is no node_modules and no dist/ beside it, only the
 * files the build put into the binary as assets. Elsewhere (sources, bundle) these are
 * never called, or say so.
 */

/** Whether this process is the single executable. */
export const inSingleExecutable = (): boolean => isSea()

/** The argument that makes the single executable a program supervisor (node/client/supervisor.ts) instead of the CLI. */
export const SEA_SUPERVISOR_ARG = '--peerstage-internal-supervise'

/** Asset names under which scripts/build-binary.ts stores what the code looks up here. */
export const SEA_ASSETS = {
  /** chunker/worker.ts bundled to one CommonJS script, run as an eval'd worker. */
  worker: 'worker.cjs',
  /** classic-level's prebuilt addon for the binary's platform and architecture. */
  classicLevel: 'classic-level.node',
  /** The tracker's dashboard files are `dashboard/NAME` (uPlot's under `dashboard/vendor/`). */
  dashboardPrefix: 'dashboard/',
} as const

/** One asset's bytes, or undefined outside the single executable or when it has no such asset. */
export function seaAsset(name: string): Buffer | undefined {
  if (!isSea() || !getAssetKeys().includes(name)) return undefined
  return Buffer.from(getAsset(name))
}

/** The names of the assets that start with `prefix`. */
export function seaAssetNames(prefix: string): string[] {
  return isSea() ? getAssetKeys().filter((k) => k.startsWith(prefix)) : []
}

/**
 * Loads a native addon carried as an asset. A process can only load an addon from a file,
 * so its bytes are written once to a directory only this user may write
 * (PEERSTAGE_NATIVE_DIR, or `peerstage-native-UID` under the temporary directory) under a
 * name holding their hash; a file already there is reused only when its bytes are the
 * asset's, so a file planted or damaged there is replaced, never loaded. On Windows the
 * default is `%LOCALAPPDATA%\peerstage\native`.
 */
export function loadNativeAsset(name: string): unknown {
  const bytes = seaAsset(name)
  if (bytes === undefined) throw new Error(`this peerstage binary carries no ${name}: rebuild it (npm run build:binary)`)
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, 16)
  const dir = nativeDir()
  const file = join(dir, `${hash}-${name}`)
  let onDisk: Buffer | undefined
  try {
    onDisk = readFileSync(file)
  } catch {
    // not written yet
  }
  if (onDisk === undefined || !onDisk.equals(bytes)) {
    const tmp = `${file}.${process.pid}.tmp`
    writeFileSync(tmp, bytes, { mode: 0o700 })
    renameSync(tmp, file) // whole or not at all, should another process load it meanwhile
  }
  const module = { exports: {} as unknown }
  process.dlopen(module, file)
  return module.exports
}

function nativeDir(): string {
  const uid = process.getuid?.()
  // Windows has no uid to check a shared temporary directory by: the user's own local app data instead.
  const local = process.platform === 'win32' ? process.env.LOCALAPPDATA : undefined
  const dir = process.env.PEERSTAGE_NATIVE_DIR ?? (local !== undefined ? join(local, 'peerstage', 'native') : join(tmpdir(), `peerstage-native-${uid ?? 'user'}`))
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  // On a shared temporary directory, someone else may have made it first: refuse to load from there.
  const st = lstatSync(dir)
  if (!st.isDirectory() || (uid !== undefined && (st.uid !== uid || (st.mode & 0o022) !== 0))) {
    throw new Error(`${dir} is not a directory that only this user may write: remove it, or set PEERSTAGE_NATIVE_DIR to one`)
  }
  return dir
}
