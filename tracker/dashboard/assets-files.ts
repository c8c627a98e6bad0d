import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { extname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { inSingleExecutable, seaAsset, seaAssetNames, SEA_ASSETS } from '../../common/index.ts'

export interface Asset {
  type: string
  body: Buffer
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.png': 'image/png',
}

/** uPlot's files the page loads, by the name it asks for under /dashboard/vendor/. */
export const VENDOR_FILES: Record<string, string> = {
  'uPlot.iife.min.js': 'uplot/dist/uPlot.iife.min.js',
  'uPlot.min.css': 'uplot/dist/uPlot.min.css',
}

/**
 * Where the page's files are: `assets/` beside this file when run from source, or
 * `dashboard/` beside the bundle (scripts/build.ts copies them there, uPlot's files
 * under `vendor/`, since the bundle may run where node_modules is not).
 */
function assetsDir(): string {
  for (const rel of ['./assets/', './dashboard/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url))
    if (existsSync(join(dir, 'index.html'))) return dir
  }
  throw new Error(`the dashboard's files are missing beside ${fileURLToPath(import.meta.url)}: rebuild (npm run build) or reinstall`)
}

/** Every file the page may ask for, read once at start: path under /dashboard/ → its bytes and type. */
export function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>()
  if (inSingleExecutable()) {
    // scripts/build-binary.ts put them into the binary, uPlot's under vendor/ as dist/ has them.
    for (const key of seaAssetNames(SEA_ASSETS.dashboardPrefix)) {
      const name = key.slice(SEA_ASSETS.dashboardPrefix.length)
      const type = TYPES[extname(name)]
      if (type !== undefined) out.set(name, { type, body: seaAsset(key)! })
    }
    return out
  }
  const dir = assetsDir()
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)]
    if (type !== undefined) out.set(name, { type, body: readFileSync(join(dir, name)) })
  }
  const vendored = join(dir, 'vendor')
  const require = createRequire(import.meta.url)
  for (const [name, spec] of Object.entries(VENDOR_FILES)) {
    const file = existsSync(join(vendored, name)) ? join(vendored, name) : require.resolve(spec)
    out.set(`vendor/${name}`, { type: TYPES[extname(name)]!, body: readFileSync(file) })
  }
  return out
}
