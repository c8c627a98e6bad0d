import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readManifest } from '../../chunker/index.ts'
import { buildBundle } from '../../scripts/build.ts'
import { peerstage, sameTree, startDaemon } from '../helpers/cli.ts'
import { sampleTree, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

// Inside the checkout, so the bundle finds classic-level and pino in node_modules as dist/ does.
const results = fileURLToPath(new URL('../../test-results/', import.meta.url))
mkdirSync(results, { recursive: true }) // not there in a fresh clone
const outdir = mkdtempSync(join(results, 'bundle-'))
const bin = join(outdir, 'peerstage.mjs')
const stops: Array<() => Promise<void>> = []

beforeAll(() => buildBundle(outdir), 60_000)
afterAll(async () => {
  await Promise.all(stops.map((stop) => stop()))
  rmSync(outdir, { recursive: true, force: true })
})

describe('npm run build: the bundled CLI (dist/peerstage.mjs)', () => {
  it('prints --help and packs, verifies, seeds and fetches a package on its hashing threads and native store', async () => {
    const help = await peerstage(['--help'], { bin })
    expect(help.code, help.stderr).toBe(0)
    expect(help.stdout).toMatch(/^ {2}fetch {2,}download a package/m)

    const dir = tempDir()
    const src = join(dir, 'src')
    sampleTree(src)
    writeTree(src, { 'sources/install.esd': pseudoRandomBytes(6_000_000, 7) })
    const manifest = join(dir, 'pkg.json')
    for (const args of [
      ['keygen', '--out', join(dir, 'keys')],
      ['pack', src, '--name', 'win11', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest],
      ['verify', manifest, src, '--trust', join(dir, 'keys/publisher.pub')],
      ['swarm-key', '--out', join(dir, 'swarm.key')],
    ]) {
      const r = await peerstage(args, { bin })
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(0)
    }

    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.7/tcp/0', '--publish', manifest, '--source', src, '--json'], bin)
    stops.push(dp.stop)
    const dpAddress = (await dp.ready).addresses[0] as string
    const out = join(dir, 'out')
    const r = await peerstage(['fetch', manifest, '--out', out, '--peer', dpAddress, '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'), '--dial-from', '127.0.7.1', '--json'], { bin })
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, name: 'win11', reusedBytes: 0 })
    expect(sameTree(src, out, readManifest(manifest).manifest.files.map((f) => f.path))).toBe(true)
  }, 90_000)

  it('serves the tracker\'s dashboard, its files copied beside the bundle', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'tracker.yaml'), 'adminToken: a\ndpToken: d\nlisten: 127.0.10.10:0\nsites:\n  - name: leeds\n    subnets: [127.0.1.0/24]\n')
    const tracker = startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'], bin)
    stops.push(tracker.stop)
    const url = (await tracker.ready).url as string
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('/dashboard/app.js')
    for (const file of ['app.js', 'vendor/uPlot.iife.min.js']) expect((await fetch(`${url}/dashboard/${file}`)).status, file).toBe(200)
    expect(await (await fetch(`${url}/v1/timeline?site=leeds`)).json()).toMatchObject({ scope: { kind: 'site', name: 'leeds' } })
  }, 30_000)
})
