import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { peerstage, startDaemon, startTestTracker } from '../helpers/cli.ts'
import { writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'
import { until } from '../helpers/until.ts'

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** Each run appends "DEPLOYMENT start" to the marker first: the lines count the runs. */
const program = (rest: string): string => `#!/bin/sh\necho "$PEERSTAGE_DEPLOYMENT start" >> "$PEERSTAGE_TEST_MARKER"\necho working\n${rest}`

describe('a client killed while its program runs (real processes)', () => {
  it('after a restart reports the exit the program really had, and never runs it twice; a hung program ends at its --timeout', async () => {
    const dir = tempDir()
    const src = join(dir, 'src')
    writeTree(src, {
      'install.wim': pseudoRandomBytes(1_000_000, 5),
      // Waits (at most a minute) for the test to let it finish, so it surely outlives the killed client.
      'ok.sh': program('i=0\nwhile [ ! -e "$PEERSTAGE_TEST_MARKER.release" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done\necho finished\nexit 0\n'),
      'three.sh': program('sleep 1\necho giving up\nexit 3\n'),
      'hang.sh': program('sleep 600\n'),
    })
    for (const s of ['ok.sh', 'three.sh', 'hang.sh']) chmodSync(join(src, s), 0o755)
    const marker = join(dir, 'marker.txt')
    process.env.PEERSTAGE_TEST_MARKER = marker // the client inherits it, and passes it to the program
    const runs = (id: string): number => existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter((l) => l === `${id} start`).length : 0
    const manifest = join(dir, 'pkg.json')
    expect((await peerstage(['keygen', '--out', join(dir, 'keys')])).code).toBe(0)
    const packed = await peerstage(['pack', src, '--name', 'tools', '--version', '1', '--key', join(dir, 'keys/publisher.key'), '--out', manifest,
      '--program', 'ok=./ok.sh', '--program', 'three=./three.sh', '--program', 'hang=./hang.sh'])
    expect(packed.code, packed.stderr).toBe(0)
    expect((await peerstage(['swarm-key', '--out', join(dir, 'swarm.key')])).code).toBe(0)

    const { url } = await startTestTracker(dir, {
      listen: '127.0.10.10:0', lines: ['trust: [keys/publisher.pub]'],
      sites: [{ name: 'dc', subnets: ['127.0.10.0/24'] }, { name: 'leeds', subnets: ['127.0.1.0/24'] }],
    }, (stop) => daemons.push(stop))
    const dp = startDaemon(['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--listen', '/ip4/127.0.10.1/tcp/0', '--dial-from', '127.0.10.1',
      '--publish', manifest, '--source', src, '--tracker', url, '--dp-token', 'dp-s3cret', '--json'])
    daemons.push(dp.stop)
    await dp.ready

    const data = join(dir, 'client')
    const startClient = async (): Promise<ReturnType<typeof startDaemon>> => {
      const c = startDaemon(['client', '--tracker', url, '--data', data, '--swarm-key', join(dir, 'swarm.key'), '--trust', join(dir, 'keys/publisher.pub'),
        '--listen', '/ip4/127.0.1.1/tcp/0', '--dial-from', '127.0.1.1', '--json'])
      daemons.push(c.stop)
      await c.ready
      return c
    }
    const deploy = async (name: string, extra: string[] = []): Promise<string> => {
      const now = new Date().toISOString()
      const created = await peerstage(['deploy', 'create', '--tracker', url, '--token', 's3cret', '--manifest', manifest, '--program', name,
        '--target', 'site:leeds', '--available', now, '--mandatory', now, ...extra, '--json'])
      expect(created.code, created.stderr).toBe(0)
      return JSON.parse(created.stdout).id as string
    }
    /** The client's report as the tracker shows it, once it is final. */
    const finalReport = async (id: string): Promise<Record<string, any>> => {
      for (let i = 0; i < 120; i++) {
        const shown = await peerstage(['deploy', 'show', id, '--tracker', url, '--json'])
        const client = JSON.parse(shown.stdout).status.sites.find((s: any) => s.name === 'leeds')?.subnets[0]?.clients[0]
        if (client !== undefined && ['succeeded', 'failed'].includes(client.state)) return client
        await new Promise((r) => setTimeout(r, 500))
      }
      throw new Error(`deployment ${id} did not finish`)
    }

    // Killed while the program still runs: the restarted client waits for it and takes its exit 0.
    let client = await startClient()
    const ok = await deploy('ok')
    await until(() => runs(ok) === 1, 'the ok program to start', 60_000)
    await client.kill()
    client = await startClient()
    expect(existsSync(join(data, 'logs', `${ok}.log.exit.json`))).toBe(false) // still running
    writeFileSync(`${marker}.release`, '')
    expect(await finalReport(ok)).toMatchObject({ state: 'succeeded', exitCode: 0, logTail: 'working\nfinished\n' })

    // Killed, and the program ends before the client is back: its recorded exit 3 is reported.
    const three = await deploy('three')
    await until(() => runs(three) === 1, 'the three program to start', 60_000)
    await client.kill()
    await until(() => existsSync(join(data, 'logs', `${three}.log.exit.json`)), 'the three program to exit', 10_000)
    client = await startClient()
    expect(await finalReport(three)).toMatchObject({ state: 'failed', exitCode: 3, reason: 'exit code 3', logTail: 'working\ngiving up\n' })

    // A program that hangs is ended at its timeout, and deploy show says so.
    const hang = await deploy('hang', ['--timeout', '2'])
    expect(await finalReport(hang)).toMatchObject({ state: 'failed', exitCode: null, reason: expect.stringMatching(/^timeout: still running after 2 s/) })
    const shown = await peerstage(['deploy', 'show', hang, '--tracker', url])
    expect(shown.stdout).toMatch(/timeout +2 s, then the program's process group is ended/)
    expect(shown.stdout).toMatch(/failed 100%, exit by signal: timeout: still running after 2 s/)

    // Each ran exactly once, however often the client came back.
    await client.stop()
    client = await startClient()
    await new Promise((r) => setTimeout(r, 1500))
    expect([runs(ok), runs(three), runs(hang)]).toEqual([1, 1, 1])
  }, 300_000)
})
