import { execFile } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { delimiter, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { COMMANDS } from '../../bin/commands.ts'
import { DIST_BIN } from '../../scripts/build.ts'
import { withoutFaketime } from '../helpers/env.ts'
import { tempDir } from '../helpers/tmp.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '')
const UNITS = join(ROOT, 'ops/systemd')
/** Where the units say peerstage is installed: a checkout after `npm ci && npm run build`. */
const INSTALL = '/opt/peerstage'

const ANALYZE = ['/usr/bin/systemd-analyze', ...(process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'systemd-analyze'))].find((p) => existsSync(p))
if (ANALYZE === undefined) console.log('systemd-analyze not found: apt-get install -y systemd')

function run(file: string, args: string[]): Promise<{ code: number, out: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: withoutFaketime(), timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, out: `${stdout}${stderr}` })
    })
  })
}

/** Each `Key=value` of a unit, in order (a key may repeat). */
function settings(text: string): Array<[string, string]> {
  return text.split('\n').filter((l) => /^[A-Za-z]+=/.test(l)).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])
}
const valueOf = (text: string, key: string): string | undefined => settings(text).findLast(([k]) => k === key)?.[1]

const ROLES = [
  { role: 'tracker', unit: 'peerstage-tracker.service' },
  { role: 'dp', unit: 'peerstage-dp.service' },
  { role: 'client', unit: 'peerstage-client.service' },
]

describe('service units (issue 21)', () => {
  it('there is one unit per role, and nothing else in ops/systemd', () => {
    expect(readdirSync(UNITS).sort()).toEqual(ROLES.map((r) => r.unit).sort())
  })

  for (const { role, unit } of ROLES) {
    it(`${unit} starts Node 24 of the checkout on the bundle, with options '${role}' has`, async () => {
      const text = readFileSync(join(UNITS, unit), 'utf8')
      const [exe, script, command, ...args] = valueOf(text, 'ExecStart')!.split(/\s+/)
      expect(exe).toBe(`${INSTALL}/node_modules/.bin/node`)
      expect(existsSync(join(ROOT, 'node_modules/.bin/node'))).toBe(true)
      expect(script).toBe(`${INSTALL}/${relative(ROOT, fileURLToPath(new URL(DIST_BIN, `file://${ROOT}/`)))}`)
      expect(command).toBe(role)
      const options = Object.keys((await COMMANDS.find((c) => c.name === role)!.load()).options)
      for (const flag of args.filter((a) => a.startsWith('--'))) expect(options, `${unit}: ${flag}`).toContain(flag.slice(2))
      expect(valueOf(text, 'StateDirectory')).toBe(`peerstage-${role}`)
      expect(valueOf(text, 'ConfigurationDirectory')).toBe('peerstage')
      expect(valueOf(text, 'Restart')).toBe('on-failure')
      // Exit 2 means a config or a directory to fix: restarting in a loop would only fill the journal.
      expect(valueOf(text, 'RestartPreventExitStatus')).toBe('2')
    })
  }

  it('the tracker and the DP run sandboxed as a dynamic user: no capabilities, read-only system, network families only', () => {
    for (const unit of ['peerstage-tracker.service', 'peerstage-dp.service']) {
      const text = readFileSync(join(UNITS, unit), 'utf8')
      expect(Object.fromEntries(['DynamicUser', 'NoNewPrivileges', 'CapabilityBoundingSet', 'ProtectSystem', 'ProtectHome', 'PrivateTmp', 'RestrictAddressFamilies', 'SystemCallFilter']
        .map((k) => [k, valueOf(text, k)])), unit).toEqual({
        DynamicUser: 'yes', NoNewPrivileges: 'yes', CapabilityBoundingSet: '', ProtectSystem: 'strict', ProtectHome: 'yes', PrivateTmp: 'yes',
        RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX', SystemCallFilter: '@system-service',
      })
      expect(valueOf(text, 'MemoryDenyWriteExecute'), 'V8 writes machine code at run time').toBeUndefined()
    }
  })

  it('the client signals only itself at stop and waits out its program\'s 30 s and the 10 s group kill', () => {
    const text = readFileSync(join(UNITS, 'peerstage-client.service'), 'utf8')
    expect(valueOf(text, 'KillMode')).toBe('mixed')
    expect(Number(valueOf(text, 'TimeoutStopSec'))).toBeGreaterThanOrEqual(30 + 10 + 5)
    // Its programs inherit the sandbox: none of the options that would take their disk, root or devices.
    for (const key of ['DynamicUser', 'User', 'ProtectSystem', 'ProtectHome', 'NoNewPrivileges', 'CapabilityBoundingSet', 'PrivateTmp', 'PrivateDevices', 'RestrictAddressFamilies', 'SystemCallFilter']) {
      expect(valueOf(text, key), key).toBeUndefined()
    }
  })

  describe.skipIf(ANALYZE === undefined)('systemd-analyze', () => {
    /** The units with /opt/peerstage pointing at this checkout, so verify finds the real executable. */
    function installedHere(): string[] {
      const dir = tempDir()
      return ROLES.map(({ unit }) => {
        const path = join(dir, unit)
        writeFileSync(path, readFileSync(join(UNITS, unit), 'utf8').replaceAll(INSTALL, ROOT))
        return path
      })
    }

    it('verify passes every unit with no warning (an unknown or misspelt key is one)', async () => {
      const r = await run(ANALYZE!, ['verify', ...installedHere()])
      expect(r.out.split('\n').filter((l) => /peerstage|Unknown|ignoring|not executable/.test(l))).toEqual([])
      expect(r.code).toBe(0)
    })

    it('verify fails a unit whose ExecStart is not there (the check above can fail)', async () => {
      const r = await run(ANALYZE!, ['verify', join(UNITS, 'peerstage-tracker.service')])
      if (existsSync(`${INSTALL}/node_modules/.bin/node`)) return // installed on this machine: nothing to show
      expect(r.code).not.toBe(0)
      expect(r.out).toMatch(/is not executable/)
    })

    it('security rates the tracker and the DP OK (exposure below 2 of 10)', async () => {
      for (const path of installedHere().filter((p) => !p.endsWith('client.service'))) {
        const r = await run(ANALYZE!, ['security', '--offline=yes', path])
        const exposure = /Overall exposure level for \S+: ([\d.]+)/.exec(r.out)
        expect(exposure, r.out.slice(-300)).not.toBeNull()
        expect(Number(exposure![1])).toBeLessThan(2)
      }
    })
  })
})
