/**
 * Builds the single executable (`npm run build:binary`): one file, `dist-bin/peerstage`
 * (`peerstage.exe` for Windows), that runs the CLI with nothing beside it — no Node, no
 * node_modules. It is Node's own binary with the CLI injected (single-executable
 * applications, SEA):
 *
 * 1. esbuild bundles bin/binary-main.ts into one CommonJS script (SEA runs no ES module and
 *    no second file) and chunker/worker.ts into another, run as an eval'd worker thread;
 * 2. the blob (`node --experimental-sea-config`) holds that script, its V8 code cache, and
 *    as assets the worker, classic-level's prebuilt addon for the target (written out once
 *    and loaded from a private directory: common/single-executable.ts) and the dashboard;
 * 3. postject injects the blob into a copy of the Node binary.
 *
 * For another platform (e.g. Windows), pass that platform's Node binary of the same version
 * as this one: `--target win32-x64 --node-binary node.exe`. The code cache is left out then:
 * V8's cache is only valid on the platform that made it.
 */
import { build, type Plugin } from 'esbuild'
import { execFileSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { SEA_ASSETS } from '../common/single-executable.ts'
import { VENDOR_FILES } from '../tracker/dashboard/index.ts'

const ROOT = fileURLToPath(new URL('../', import.meta.url))
export const DIST_BINARY = join(ROOT, 'dist-bin')
/** The fuse Node's binary carries, flipped by postject when a blob is injected. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'

export interface BinaryInit {
  /** @default DIST_BINARY */
  outdir?: string
  /** `PLATFORM-ARCH` as process.platform and process.arch name them. @default this machine's */
  target?: string
  /** The Node binary to inject into, of this Node's version. @default process.execPath (for this machine's target only) */
  nodeBinary?: string
}

export interface BinaryResult {
  file: string
  bytes: number
  codeCache: boolean
}

export async function buildBinary(init: BinaryInit = {}): Promise<BinaryResult> {
  const here = `${process.platform}-${process.arch}`
  const target = init.target ?? here
  const native = target === here
  if (!native && init.nodeBinary === undefined) throw new Error(`building for ${target} on ${here} needs --node-binary: the Node ${process.version} binary for ${target}`)
  const [platform, arch] = target.split('-') as [string, string]
  const outdir = init.outdir ?? DIST_BINARY
  const work = join(outdir, 'build')
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })

  const common = {
    bundle: true, platform: 'node', target: 'node24', format: 'cjs', logLevel: 'warning',
    // Minified, the script and its code cache are a third the size: `--help` spends ~30 ms less in V8.
    // Names kept: errors and logs name their classes.
    minify: true, keepNames: true,
    // import.meta has no meaning in CommonJS; the few uses look beside the file, which is the binary here.
    define: { 'import.meta.url': '__peerstageMetaUrl' },
    banner: { js: 'var __peerstageMetaUrl = require("node:url").pathToFileURL(process.execPath).href;' },
  } as const
  await build({ ...common, entryPoints: [join(ROOT, 'bin/binary-main.ts')], outfile: join(work, 'peerstage.cjs'), plugins: [bundledPino, carriedAddon] })
  await build({ ...common, entryPoints: [join(ROOT, 'chunker/worker.ts')], outfile: join(work, SEA_ASSETS.worker) })

  const assets: Record<string, string> = {
    [SEA_ASSETS.worker]: join(work, SEA_ASSETS.worker),
    [SEA_ASSETS.classicLevel]: classicLevelPrebuild(platform, arch),
    ...dashboardAssets(),
  }
  const codeCache = native
  const config = { main: join(work, 'peerstage.cjs'), output: join(work, 'sea.blob'), disableExperimentalSEAWarning: true, useCodeCache: codeCache, useSnapshot: false, assets }
  writeFileSync(join(work, 'sea-config.json'), JSON.stringify(config, null, 2))
  try {
    execFileSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'pipe' })
  } catch (err) {
    throw new Error(`node --experimental-sea-config failed: ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}`)
  }

  const file = join(outdir, platform === 'win32' ? 'peerstage.exe' : 'peerstage')
  rmSync(file, { force: true })
  copyFileSync(init.nodeBinary ?? process.execPath, file)
  chmodSync(file, 0o755) // a copy of a read-only node (as npm may install it) must be writable to inject
  const require = createRequire(import.meta.url)
  const { inject } = require('postject') as { inject: (file: string, name: string, data: Buffer, options: object) => Promise<void> }
  // postject's LIEF warns about every ELF note section it cannot name; harmless, and noise
  // in a build's output: kept only to explain a failure.
  const warnings: string[] = []
  const warn = console.warn
  console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')) }
  try {
    await inject(file, 'NODE_SEA_BLOB', readFileSync(join(work, 'sea.blob')), {
      sentinelFuse: SEA_FUSE, ...(platform === 'darwin' && { machoSegmentName: 'NODE_SEA' }),
    })
  } catch (err) {
    throw new Error(`postject could not inject the blob into ${file}: ${(err as Error).message}${warnings.length > 0 ? ` (${warnings.join('; ')})` : ''}`)
  } finally {
    console.warn = warn
  }
  rmSync(work, { recursive: true, force: true })
  return { file, bytes: readFileSync(file).length, codeCache }
}

/**
 * common/logger.ts loads pino through createRequire on first use, to keep commands that never
 * log fast; esbuild cannot follow that, and the binary has no node_modules to load from. Here
 * the line that makes the local `require` goes, so its `require('pino')` is the bundle's own
 * (still called on first use only).
 */
const bundledPino: Plugin = {
  name: 'bundled-pino',
  setup(b) {
    b.onLoad({ filter: /[\\/]common[\\/]logger\.ts$/ }, (args) => {
      const line = 'const require = createRequire(import.meta.url)'
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes(line)) throw new Error(`${args.path} no longer holds '${line}': update scripts/build-binary.ts`)
      return { contents: source.replace(line, ''), loader: 'ts' }
    })
  },
}

/** classic-level finds its addon through node-gyp-build beside its own files; here it comes from the binary. */
const carriedAddon: Plugin = {
  name: 'carried-addon',
  setup(b) {
    b.onResolve({ filter: /^node-gyp-build$/ }, (args) => {
      if (!/[\\/]classic-level[\\/]/.test(args.importer)) throw new Error(`${args.importer} loads a native addon the binary does not carry`)
      return { path: 'classic-level-addon', namespace: 'carried-addon' }
    })
    b.onLoad({ filter: /.*/, namespace: 'carried-addon' }, () => ({
      contents: `const { loadNativeAsset } = require(${JSON.stringify(join(ROOT, 'common/single-executable.ts'))})
module.exports = () => loadNativeAsset(${JSON.stringify(SEA_ASSETS.classicLevel)})`,
      loader: 'js',
      resolveDir: ROOT,
    }))
  },
}

/** classic-level's prebuilt addon for PLATFORM-ARCH (glibc's on Linux). */
function classicLevelPrebuild(platform: string, arch: string): string {
  const require = createRequire(import.meta.url)
  const prebuilds = join(dirname(require.resolve('classic-level/package.json')), 'prebuilds')
  const dir = readdirSync(prebuilds).find((d) => d.startsWith(`${platform}-`) && d.slice(platform.length + 1).split('+').includes(arch))
  const file = dir === undefined ? undefined : join(prebuilds, dir, 'classic-level.node')
  if (file === undefined || !existsSync(file)) throw new Error(`classic-level ships no prebuilt addon for ${platform}-${arch} (in ${prebuilds})`)
  return file
}

/** The tracker's dashboard files as assets `dashboard/NAME`, uPlot's under `dashboard/vendor/`. */
function dashboardAssets(): Record<string, string> {
  const require = createRequire(import.meta.url)
  const dir = join(ROOT, 'tracker/dashboard/assets')
  const out: Record<string, string> = {}
  for (const name of readdirSync(dir)) out[`${SEA_ASSETS.dashboardPrefix}${name}`] = join(dir, name)
  for (const [name, spec] of Object.entries(VENDOR_FILES)) out[`${SEA_ASSETS.dashboardPrefix}vendor/${name}`] = require.resolve(spec)
  return out
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { target: { type: 'string' }, 'node-binary': { type: 'string' }, out: { type: 'string' } } })
  const result = await buildBinary({ target: values.target, nodeBinary: values['node-binary'], outdir: values.out })
  console.log(`built ${relative(process.cwd(), result.file) || result.file}: ${(result.bytes / 1024 / 1024).toFixed(1)} MiB${result.codeCache ? '' : ' (no code cache: built for another platform)'}`)
}
