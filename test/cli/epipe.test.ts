import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { cliTrackerWithPackages, peerstage } from '../helpers/cli.ts'
import { tempDir } from '../helpers/tmp.ts'

const BIN = fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/**
 * Runs the CLI with the reading end of its stdout closed before it writes anything, as
 * `| head -1` does to the writes after the first: every write it makes meets EPIPE.
 */
function closedStdout(args: string[]): Promise<{ code: number | null, stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.destroy()
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stderr })))
}

describe('a reader that closes stdout early (| head -1): EPIPE ends quietly with the command\'s exit code', () => {
  it('peerstage --help, and a command\'s --json error object', async () => {
    expect(await closedStdout(['--help'])).toEqual({ code: 0, stderr: '' })
    const dir = tempDir()
    expect(await closedStdout(['verify', join(dir, 'missing.json'), dir, '--json'])).toEqual({ code: 2, stderr: '' })
  })

  it('deploy create … | head -1 still creates the deployment, exit 0, no EPIPE stack trace', async () => {
    const w = await cliTrackerWithPackages('adminToken: s3cret\ndpToken: dp-s3cret\nsites:\n  - name: leeds\n    subnets: [127.0.1.0/24]\n', (stop) => daemons.push(stop))
    const create = ['deploy', 'create', '--tracker', w.url, '--token', 's3cret', '--manifest', w.manifest, '--program', 'install', '--target', 'site:leeds',
      '--available', '2026-11-27T20:00:00+00:00', '--mandatory', '2026-11-28T02:00:00+00:00']
    expect(await closedStdout(create)).toEqual({ code: 0, stderr: '' })
    const listed = await peerstage(['deploy', 'list', '--tracker', w.url, '--json'])
    expect(JSON.parse(listed.stdout).deployments).toMatchObject([{ name: 'win11', program: 'install', targets: ['site:leeds'] }])
    expect(await closedStdout(['deploy', 'list', '--tracker', w.url])).toEqual({ code: 0, stderr: '' })
  })
})
