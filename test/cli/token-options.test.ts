import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createTrackerServer } from '../../tracker/index.ts'
import type { CliResult } from '../helpers/cli.ts'
import { tempDir } from '../helpers/tmp.ts'
import { CONFIG, trackerAt } from '../tracker/helpers.ts'

const BIN = process.env.PEERSTAGE_BIN ?? fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

/** The real CLI with exactly these PEERSTAGE_*TOKEN variables (the test's own environment may hold none of them). */
function peerstage(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^PEERSTAGE_.*TOKEN$/.test(k)))
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()))
})

describe('tokens from a flag, a file or the environment; --tracker-ca', () => {
  it('refuses a token given two ways, an unreadable or empty file, an empty variable, a missing token, a non-PEM CA: one line, exit 2', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'empty.token'), '\n')
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n')
    const show = ['throttle', 'show', '--tracker', 'http://127.0.10.10:9', '--site', 'leeds']
    const dp = ['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--tracker', 'http://127.0.10.10:9']
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [[...show, '--token', 'a', '--token-file', join(dir, 'empty.token')], {}, /--token and --token-file exclude each other/],
      [[...show, '--token-file', join(dir, 'missing.token')], {}, /--token-file '.*missing\.token' cannot be read \(it holds the token\): ENOENT/],
      [[...show, '--token-file', join(dir, 'empty.token')], {}, /--token-file '.*empty\.token' is empty: it must hold the token/],
      [show, { PEERSTAGE_TOKEN: ' ' }, /PEERSTAGE_TOKEN is set but empty/],
      [show, {}, /--token is required \(or --token-file FILE, or PEERSTAGE_TOKEN in the environment\)/],
      [[...show, '--token', 'a', '--tracker-ca', join(dir, 'not-a-cert.pem')], {}, /--tracker-ca '.*not-a-cert\.pem' is not a PEM certificate/],
      [[...show, '--token', 'a', '--tracker-ca', join(dir, 'missing.pem')], {}, /--tracker-ca '.*missing\.pem' cannot be read \(the CA certificate\): ENOENT/],
      [dp, {}, /--dp-token is required \(or --dp-token-file FILE, or PEERSTAGE_DP_TOKEN in the environment\)/],
      [[...dp, '--dp-token-file', join(dir, 'empty.token')], {}, /--dp-token-file '.*' is empty/],
      [['dp', '--data', join(dir, 'dp'), '--swarm-key', join(dir, 'swarm.key'), '--tracker-ca', join(dir, 'not-a-cert.pem')], {}, /--tracker-ca is for an https:\/\/ --tracker: give --tracker URL too, or drop it/],
    ]
    for (const [args, env, message] of cases) {
      const r = await peerstage(args, env)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr.split('\n')[0], args.join(' ')).toMatch(message)
    }
  })

  it('sends the flag\'s token, else the file\'s, else the environment\'s (to a real tracker)', async () => {
    const { tracker } = await trackerAt(Date.now())
    const app = createTrackerServer(tracker)
    closers.push(async () => { await app.close(); await tracker.stop() })
    await app.listen({ host: '127.0.10.10', port: 0 })
    const url = `http://127.0.10.10:${(app.server.address() as { port: number }).port}`
    const dir = tempDir()
    writeFileSync(join(dir, 'admin.token'), `  ${CONFIG.adminToken}\n`)
    const show = ['throttle', 'show', '--tracker', url, '--site', 'leeds', '--json']
    const cases: Array<[string[], Record<string, string>, number]> = [
      [['--token-file', join(dir, 'admin.token')], { PEERSTAGE_TOKEN: 'wrong' }, 0], // the file wins over the environment
      [['--token', 'wrong'], { PEERSTAGE_TOKEN: CONFIG.adminToken }, 2], // the flag wins over the environment
      [[], { PEERSTAGE_TOKEN: CONFIG.adminToken }, 0],
      [[], { PEERSTAGE_TOKEN: 'wrong' }, 2],
    ]
    for (const [args, env, code] of cases) {
      const r = await peerstage([...show, ...args], env)
      expect(r.code, `${args.join(' ')} ${JSON.stringify(env)}`).toBe(code)
      if (code === 0) expect(JSON.parse(r.stdout)).toMatchObject({ site: 'leeds' })
      else expect(JSON.parse(r.stdout).error.code).toBe('PEERSTAGE_TRACKER_UNAUTHORIZED')
    }
  })
})
