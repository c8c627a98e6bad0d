import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { readManifest } from '../../chunker/index.ts'
import { cliPack, peerstage, sameTree, startDaemon, startTestTracker } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
  delete process.env.PEERSTAGE_TEST_MARKER
})

/** Appends "deployment cwd" to the marker: what ran, and where. */
const INSTALL_SH = '#!/bin/sh\necho "$PEERSTAGE_DEPLOYMENT $(pwd)" >> "$PEERSTAGE_TEST_MARKER"\n'

/**
 * A package, a tracker process (sites dc 127.0.30.0/24 and branch 127.0.31.0/24, a client
 * token), and DIR/etc/ holding the swarm key and the token files the nodes' configs name by
 * relative paths. The nodes run with the worktree as their working directory, not etc/.
 */
async function world(): Promise<{ dir: string, etc: string, src: string, manifest: string, url: string }> {
  const dir = tempDir()
  const src = join(dir, 'src')
  writeTree(src, { 'install.wim': pseudoRandomBytes(3_000_000, 21), 'install.sh': INSTALL_SH })
  chmodSync(join(src, 'install.sh'), 0o755)
  const manifest = await cliPack(dir, src, { program: 'install=./install.sh' })
  const etc = join(dir, 'etc')
  mkdirSync(etc)
  expect((await peerstage(['swarm-key', '--out', join(etc, 'swarm.key')])).code).toBe(0)
  writeFileSync(join(etc, 'dp.token'), 'dp-s3cret\n', { mode: 0o600 })
  writeFileSync(join(etc, 'client.token'), 'c-s3cret\n', { mode: 0o600 })
  const { url } = await startTestTracker(dir, {
    listen: '127.0.30.10:0', lines: ['clientToken: c-s3cret', 'trust: [keys/publisher.pub]'],
    sites: [{ name: 'dc', subnets: ['127.0.30.0/24'] }, { name: 'branch', subnets: ['127.0.31.0/24'] }],
  }, (stop) => daemons.push(stop))
  return { dir, etc, src, manifest, url }
}

describe('dp, fetch and client from --config FILE (real processes)', () => {
  it('each role starts from its file and behaves as with flags; relative paths are the file\'s; flags win', async () => {
    const w = await world()
    const paths = readManifest(w.manifest).manifest.files.map((f) => f.path)

    // dp: everything from the file but --listen, whose list the command line replaces.
    writeFileSync(join(w.etc, 'dp.yaml'), `# a DP of site dc
data: ../var/dp
swarmKey: swarm.key
listen: [/ip4/127.0.30.1/tcp/0]
dialFrom: 127.0.30.1
publish: [../win11.json]
source: [../src]
trust: [../keys/publisher.pub]
tracker: ${w.url}
dpTokenFile: dp.token
uploadLimit: unlimited
bulkPort: off
`)
    const dp = startDaemon(['dp', '--config', join(w.etc, 'dp.yaml'), '--listen', '/ip4/127.0.30.2/tcp/0', '--json'])
    daemons.push(dp.stop)
    const d = await dp.ready
    expect(d.tracker).toEqual({ subnet: '127.0.30.0/24', site: 'dc' })
    expect(d.packages).toEqual([{ name: 'win11', version: '24H2', packageId: readManifest(w.manifest).packageId }])
    expect(d.addresses).toHaveLength(1)
    expect(d.addresses[0]).toMatch(/^\/ip4\/127\.0\.30\.2\/tcp\/\d+\/p2p\//)
    expect(existsSync(join(w.dir, 'var/dp'))).toBe(true) // ../var/dp from etc/, not from the working directory

    // fetch: the tracker, token file and swarm key from the file; --out on the command line wins.
    writeFileSync(join(w.etc, 'fetch.yaml'), `tracker: [${w.url}]
swarmKey: swarm.key
clientTokenFile: client.token
trust: ../keys/publisher.pub
out: ../from-file
data: ../var/fetch
dialFrom: 127.0.31.1
listen: [/ip4/127.0.31.1/tcp/0]
stallTimeout: 60
`)
    const fetchArgs = ['fetch', w.manifest, '--config', join(w.etc, 'fetch.yaml'), '--out', join(w.dir, 'from-cli'), '--json']
    const fetched = await peerstage(fetchArgs)
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(JSON.parse(fetched.stdout)).toMatchObject({ ok: true, name: 'win11', out: join(w.dir, 'from-cli') })
    expect(sameTree(w.src, join(w.dir, 'from-cli'), paths)).toBe(true)
    expect(existsSync(join(w.dir, 'from-file'))).toBe(false)
    expect(existsSync(join(w.dir, 'var/fetch'))).toBe(true)
    // --client-token replaces the file's clientTokenFile (not "give it one way"): the tracker refuses the wrong one.
    const wrong = await peerstage([...fetchArgs, '--client-token', 'wrong'])
    expect(wrong.code).toBe(2)
    expect(JSON.parse(wrong.stdout).error.code).toBe('PEERSTAGE_TRACKER_UNAUTHORIZED')

    // client: from the file alone; a deployment to its site is pre-staged and run.
    writeFileSync(join(w.etc, 'client.yaml'), `tracker: ${w.url}
data: ../var/client
swarmKey: swarm.key
trust: [../keys/publisher.pub]
clientTokenFile: client.token
dialFrom: 127.0.31.2
listen: [/ip4/127.0.31.2/tcp/0]
cacheMax: 1GiB
`)
    const marker = join(w.dir, 'marker.txt')
    process.env.PEERSTAGE_TEST_MARKER = marker // the client inherits it and passes it to the program
    const client = startDaemon(['client', '--config', join(w.etc, 'client.yaml'), '--json'])
    daemons.push(client.stop)
    expect(await client.ready).toMatchObject({ subnet: '127.0.31.0/24', site: 'branch' })
    const created = await peerstage(['deploy', 'create', '--tracker', w.url, '--token', 's3cret', '--manifest', w.manifest, '--program', 'install',
      '--target', 'site:branch', '--available', new Date().toISOString(), '--mandatory', new Date(Date.now() + 2000).toISOString(), '--json'])
    expect(created.code, created.stderr).toBe(0)
    const { id } = JSON.parse(created.stdout)
    let counts: Record<string, number> = {}
    for (let i = 0; i < 240 && counts.succeeded === undefined && counts.failed === undefined; i++) {
      await new Promise((r) => setTimeout(r, 250))
      counts = JSON.parse((await peerstage(['deploy', 'show', id, '--tracker', w.url, '--json'])).stdout).status.counts
    }
    expect(counts).toEqual({ succeeded: 1 })
    expect(readFileSync(marker, 'utf8')).toBe(`${id} ${join(w.dir, 'var/client/packages', readManifest(w.manifest).packageId)}\n`)
  }, 180_000)

  it('a misspelt key exits 2 naming it and the key meant; --json gives the code and the key', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'client.yaml'), 'tracker: http://127.0.31.10:9\ndata: var\nswarmKey: swarm.key\ncacheMx: 50GiB\n')
    const r = await peerstage(['client', '--config', join(dir, 'client.yaml')])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`peerstage client: ${join(dir, 'client.yaml')}: cacheMx is not a key of a client config (did you mean cacheMax?): the keys are the long flags of 'peerstage client --help' in camelCase\n`)
    const j = await peerstage(['client', '--config', join(dir, 'client.yaml'), '--json'])
    expect(j.code).toBe(2)
    expect(JSON.parse(j.stdout).error).toMatchObject({ code: 'PEERSTAGE_CLI_BAD_CONFIG', details: { key: 'cacheMx', file: join(dir, 'client.yaml') } })
    expect(existsSync(join(dir, 'var'))).toBe(false) // refused before anything was made
  })

  it('a bad value from the file is refused as the flag would be, naming the key and the file', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'dp.yaml'), 'data: var\nswarmKey: swarm.key\nuploadLimit: fast\n')
    const r = await peerstage(['dp', '--config', join(dir, 'dp.yaml')])
    expect(r.code).toBe(2)
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^peerstage dp: --upload-limit 'fast' is not a rate.* \\(uploadLimit in ${join(dir, 'dp.yaml').replace(/[.]/g, '\\.')}\\)$`))
    const fine = await peerstage(['dp', '--config', join(dir, 'dp.yaml'), '--upload-limit', 'x', '--json'])
    expect(JSON.parse(fine.stdout).error.message).not.toContain('uploadLimit in') // the command line's value, not the file's
  })
})
