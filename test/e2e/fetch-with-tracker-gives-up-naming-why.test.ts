import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { cliPack, cliSmallPackage, peerstage, startDaemon } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** A tracker process (site dc = 127.0.13.0/24) and a DP of dc seeding a 2 MB package with swarm key A. */
async function world() {
  const dir = tempDir()
  const src = join(dir, 'src')
  writeTree(src, { 'install.wim': pseudoRandomBytes(2_000_000, 13) })
  const manifest = await cliPack(dir, src, { version: '1', out: 'pkg.json' })
  for (const k of ['a.key', 'b.key']) expect((await peerstage(['swarm-key', '--out', join(dir, k)])).code).toBe(0)
  writeFileSync(join(dir, 'tracker.yaml'), `listen: 127.0.13.10:0
adminToken: s3cret
dpToken: dp-s3cret
announceIntervalSeconds: 1
sites:
  - name: dc
    subnets: [127.0.13.0/24]
`)
  const tracker = startDaemon(['tracker', '--config', join(dir, 'tracker.yaml'), '--json'])
  daemons.push(tracker.stop)
  const { url } = await tracker.ready
  const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'a.key'), '--listen', '/ip4/127.0.13.1/tcp/0', '--dial-from', '127.0.13.1',
    '--publish', manifest, '--source', src, '--tracker', url as string, '--dp-token', 'dp-s3cret', '--json'])
  daemons.push(dp.stop)
  await dp.ready
  /** fetch from the tracker on 127.0.13.2 with a 3 s stall bound (the default is 60 s). */
  const fetchArgs = (m: string, key: string, out: string): string[] => ['fetch', m, '--out', join(dir, out), '--swarm-key', join(dir, key), '--tracker', url as string,
    '--listen', '/ip4/127.0.13.2/tcp/0', '--dial-from', '127.0.13.2', '--stall-timeout', '3']
  return { dir, manifest, fetchArgs }
}

describe('fetch --tracker that can join no peer (issue 14, defect 6; real processes)', () => {
  it('defect 6: with another swarm key than the DP, fetch --tracker exits 1 within its bound, naming the swarm key in one sentence (and as JSON)', async () => {
    const { fetchArgs, manifest } = await world()
    const started = Date.now()
    const r = await peerstage(fetchArgs(manifest, 'b.key', 'out'))
    expect(r.code).toBe(1)
    expect(Date.now() - started).toBeLessThan(30_000) // 3 s of waiting, a probe dial, and process start-up
    expect(r.stderr).toMatch(/^peerstage fetch: nothing of win11@1 arrived in 3 s .*no peer could be joined: .*different swarm keys/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)

    const j = await peerstage([...fetchArgs(manifest, 'b.key', 'out-json'), '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'PEERSTAGE_NODE_SWARM_KEY_MISMATCH' })
  })

  it('defect 6: a package no peer holds fails within the bound with PEERSTAGE_NODE_NO_PEER, saying the tracker handed out none', async () => {
    const { dir, fetchArgs } = await world()
    const other = await cliSmallPackage(dir, 'nobody') // published by no DP
    const r = await peerstage(fetchArgs(other, 'a.key', 'out'))
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/^peerstage fetch: nothing of win11@24H2 arrived in 3 s .*the tracker handed out no peer holding it/)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    const j = await peerstage([...fetchArgs(other, 'a.key', 'out-json'), '--json'])
    expect(j.code).toBe(1)
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'PEERSTAGE_NODE_NO_PEER' })
  })
})
