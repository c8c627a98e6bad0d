/**
 * Bundles the CLI into dist/ (`npm run build`): dist/peerstage.mjs, its lazily loaded
 * command chunks, and dist/worker.mjs for the hashing threads. Run from source, Node strips
 * the types of ~900 files and resolves each import on the disk: ~1.1 s before `fetch` does
 * anything. The bundle starts in ~0.4 s, which services, scripts and the benches want.
 * classic-level (a native addon) and pino (loaded on first log line) stay in node_modules.
 * The tracker's dashboard files (and uPlot's) are copied to dist/dashboard/, where the
 * bundled tracker looks for them.
 */
import { build } from 'esbuild'
import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { VENDOR_FILES } from '../tracker/dashboard/index.ts'

export const DIST = fileURLToPath(new URL('../dist/', import.meta.url))
export const DIST_BIN = `${DIST}peerstage.mjs`

export async function buildBundle(outdir = DIST): Promise<void> {
  rmSync(outdir, { recursive: true, force: true }) // chunks of an earlier build would linger
  await build({
    entryPoints: {
      peerstage: fileURLToPath(new URL('../bin/peerstage.js', import.meta.url)),
      worker: fileURLToPath(new URL('../chunker/worker.ts', import.meta.url)),
    },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    outExtension: { '.js': '.mjs' },
    // Every file at dist/'s top, so chunker/pool.ts finds worker.mjs beside whichever holds it.
    chunkNames: 'chunk-[hash]',
    external: ['classic-level', 'pino'],
    // CommonJS dependencies call require() for Node's built-ins; ESM output has none.
    banner: { js: 'import { createRequire as __peerstageRequire } from "node:module"; const require = __peerstageRequire(import.meta.url);' },
    logLevel: 'warning',
  })
  copyDashboard(join(outdir, 'dashboard'))
}

function copyDashboard(to: string): void {
  cpSync(fileURLToPath(new URL('../tracker/dashboard/assets/', import.meta.url)), to, { recursive: true })
  mkdirSync(join(to, 'vendor'))
  const require = createRequire(import.meta.url)
  for (const [name, spec] of Object.entries(VENDOR_FILES)) cpSync(require.resolve(spec), join(to, 'vendor', name))
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildBundle()
  console.log(`built ${DIST_BIN}`)
}
