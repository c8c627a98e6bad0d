import fc from 'fast-check'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseManifest } from '../../chunker/index.ts'
import { isPeerstageError } from '../../common/index.ts'
import { runProgram } from '../../node/client/index.ts'
import {
  appliesFileModes, cmdArgument, linkPointsAt, localPath, packageLink, packagePathProblem, programLaunch, stopFileOf, supervisorStopBy, treeStopSteps,
} from '../../node/platform.ts'
import { Store } from '../../node/store/index.ts'
import { jsonOf, packSample, resigned, sampleTree } from '../helpers/packages.ts'
import { tempDir } from '../helpers/tmp.ts'

const WINDOWS_ENV = { SystemRoot: 'C:\\Windows', ComSpec: 'C:\\Windows\\system32\\cmd.exe' }

/**
 * What a Windows program built on the C runtime receives from a cmd.exe line built by
 * programLaunch: cmd.exe drops each `^` escape (every metacharacter is escaped, quotes
 * included, so it sees no quoted region), then the C runtime splits the line. A model of
 * both, to check the quoting on Linux; the real cmd.exe is untested here.
 */
function throughCmdAndCrt(line: string): string[] {
  const afterCmd = line.replace(/\^(.)/g, '$1')
  const args: string[] = []
  let current = ''
  let inQuotes = false
  let started = false
  for (let i = 0; i < afterCmd.length; i++) {
    const ch = afterCmd[i]!
    if (ch === '\\') {
      let n = 0
      while (afterCmd[i + n] === '\\') n++
      if (afterCmd[i + n] === '"') {
        current += '\\'.repeat(Math.floor(n / 2))
        if (n % 2 === 1) current += '"'
        else inQuotes = !inQuotes
        i += n
      } else {
        current += '\\'.repeat(n)
        i += n - 1
      }
      started = true
    } else if (ch === '"') {
      inQuotes = !inQuotes
      started = true
    } else if ((ch === ' ' || ch === '\t') && !inQuotes) {
      if (started) args.push(current)
      current = ''
      started = false
    } else {
      current += ch
      started = true
    }
  }
  if (started) args.push(current)
  return args
}

describe('node/platform: launching a program', () => {
  it('runs it directly on POSIX, whatever its extension: no shell, its own process group', () => {
    for (const command of ['/data/packages/ID/setup.sh', '/data/packages/ID/setup.cmd', 'msiexec']) {
      expect(programLaunch(command, ['/q', 'a b'], 'linux')).toEqual({ file: command, args: ['/q', 'a b'], windowsVerbatimArguments: false, detached: true })
    }
  })

  it('runs a batch file through cmd.exe /d /s /c on Windows, every argument escaped', () => {
    const launch = programLaunch('C:\\data\\packages\\ID\\setup.CMD', ['/unattend', 'a b', '50%', 'x & calc.exe'], 'win32', WINDOWS_ENV)
    expect(launch.file).toBe('C:\\Windows\\system32\\cmd.exe')
    expect(launch.args.slice(0, 3)).toEqual(['/d', '/s', '/c'])
    expect(launch.windowsVerbatimArguments).toBe(true)
    expect(launch.detached).toBe(false)
    expect(launch.args[3]).toBe('"C:\\data\\packages\\ID\\setup.CMD ^"/unattend^" ^"a^ b^" ^"50^%^" ^"x^ ^&^ calc.exe^""')
    expect(programLaunch('D:\\p\\install.bat', [], 'win32', WINDOWS_ENV).file).toBe('C:\\Windows\\system32\\cmd.exe')
    expect(programLaunch('D:\\p\\install.bat', [], 'win32', { SystemRoot: 'E:\\Win' }).file).toBe('E:\\Win\\System32\\cmd.exe')
  })

  it('escapes so that no cmd.exe metacharacter is left bare and the C runtime gets each argument back', () => {
    fc.assert(fc.property(fc.array(fc.string({ unit: 'binary-ascii' }).filter((s) => !/[\r\n\0]/.test(s)), { maxLength: 5 }), (args) => {
      const line = programLaunch('C:\\p\\setup.cmd', args, 'win32', WINDOWS_ENV).args[3]!
      const inner = line.slice(1, -1) // what /s /c runs: the line without its outer quotes
      // Every metacharacter is escaped: cmd.exe sees no quote, no &, no |, no %.
      expect(inner.replace(/\^./g, '')).not.toMatch(/["&|<>%^()!]/)
      expect(throughCmdAndCrt(inner).slice(1)).toEqual(args)
    }), { numRuns: 300 })
    expect(cmdArgument('say "hi"')).toBe('^"say^ \\^"hi\\^"^"')
    expect(cmdArgument('C:\\dir\\')).toBe('^"C:\\dir\\\\^"')
    expect(cmdArgument('')).toBe('^"^"')
  })

  it('refuses an argument cmd.exe would cut at a line break', () => {
    expect(() => programLaunch('C:\\p\\setup.cmd', ['ok', 'two\nlines'], 'win32', WINDOWS_ENV)).toThrow(/argument "two\\nlines" holds a line break or NUL, which cmd.exe cannot pass to setup.cmd/)
  })

  it('runs a PowerShell script through Windows PowerShell with no profile, and an .exe directly', () => {
    expect(programLaunch('C:\\p\\Install.PS1', ['-Mode', 'Full'], 'win32', WINDOWS_ENV)).toEqual({
      file: 'C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe',
      args: ['-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Bypass', '-File', 'C:\\p\\Install.PS1', '-Mode', 'Full'],
      windowsVerbatimArguments: false,
      detached: false,
    })
    expect(programLaunch('C:\\p\\setup.exe', ['/S'], 'win32', WINDOWS_ENV)).toEqual({ file: 'C:\\p\\setup.exe', args: ['/S'], windowsVerbatimArguments: false, detached: false })
  })
})

describe('node/platform: ending a program and what it started', () => {
  it('signals the process group on POSIX, runs taskkill /T on Windows (/F after the grace)', () => {
    expect(treeStopSteps('linux')).toEqual({ soft: { kind: 'signal-group', signal: 'SIGTERM' }, hard: { kind: 'signal-group', signal: 'SIGKILL' } })
    expect(treeStopSteps('win32', WINDOWS_ENV)).toEqual({
      soft: { kind: 'run', file: 'C:\\Windows\\System32\\taskkill.exe', args: ['/T', '/PID', '$PID'] },
      hard: { kind: 'run', file: 'C:\\Windows\\System32\\taskkill.exe', args: ['/T', '/F', '/PID', '$PID'] },
    })
    expect(supervisorStopBy('linux')).toBe('signal')
    expect(supervisorStopBy('darwin')).toBe('signal')
    expect(supervisorStopBy('win32')).toBe('stop-file')
  })

  it('a supervisor ends its program when the stop file appears, the way a Windows client asks, and records the exit', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'hang.sh'), '#!/bin/sh\necho started\nexec sleep 60\n', { mode: 0o755 })
    const logPath = join(dir, 'log.txt')
    let started = false
    const result = runProgram({ command: 'hang.sh', args: [], cwd: dir, env: process.env, logPath, killGraceMs: 2000, onStarted: () => { started = true } })
    expect(started).toBe(true)
    await expect.poll(() => existsSync(logPath) && readFileSync(logPath, 'utf8'), { timeout: 10_000 }).toBe('started\n')
    writeFileSync(stopFileOf(`${logPath}.exit.json`), '')
    const exit = await result
    expect(exit).toMatchObject({ exitCode: null, signal: 'SIGTERM', timedOut: false })
    expect(existsSync(stopFileOf(`${logPath}.exit.json`))).toBe(false) // taken away with the result
  }, 20_000)
})

describe('node/platform: paths, modes and links', () => {
  it('maps package paths with the platform\'s separators', () => {
    expect(localPath('C:\\data\\packages\\ID', 'sources/install.wim', 'win32')).toBe('C:\\data\\packages\\ID\\sources\\install.wim')
    expect(localPath('/var/lib/peerstage/packages/ID', 'sources/install.wim', 'linux')).toBe('/var/lib/peerstage/packages/ID/sources/install.wim')
  })

  it('holds Windows packages to Windows names, reusing the rules pack applies', () => {
    const cases: Array<[string[], string, RegExp]> = [
      [['drivers/CON'], 'drivers/CON', /reserved device name/],
      [['aux.txt'], 'aux.txt', /reserved device name/],
      [['lpt1.log'], 'lpt1.log', /reserved device name/],
      [['setup.cmd.'], 'setup.cmd.', /ends in a dot/],
      [['a:b'], 'a:b', /holds ':'/],
      [['Readme.txt', 'README.txt'], 'README.txt', /differs from "Readme.txt" only in case/],
      [['Drivers/a.inf', 'drivers/b.inf'], 'drivers', /differs from "Drivers" only in case/],
      [[`${'d/'.repeat(140)}x`], `${'d/'.repeat(140)}x`, /over Windows' 260/],
    ]
    for (const [paths, path, rule] of cases) {
      const problem = packagePathProblem(paths, {}, 'win32')
      expect(problem?.path, paths.join(',')).toBe(path)
      expect(problem?.rule, paths.join(',')).toMatch(rule)
      expect(packagePathProblem(paths, {}, 'linux'), paths.join(',')).toBeUndefined()
    }
    expect(packagePathProblem([`${'d/'.repeat(140)}x`], { longPaths: true }, 'win32')).toBeUndefined()
    expect(packagePathProblem(['CONTENT/setup.cmd', 'sources/install.wim'], {}, 'win32')).toBeUndefined()
  })

  it('applies file modes only on POSIX', () => {
    expect(appliesFileModes('linux')).toBe(true)
    expect(appliesFileModes('darwin')).toBe(true)
    expect(appliesFileModes('win32')).toBe(false)
  })

  it('links NAME@VERSION with a relative symlink on POSIX, an absolute junction on Windows', () => {
    expect(packageLink('/data/packages/win11@1', 'abc', 'linux')).toEqual({ target: 'abc', type: undefined })
    expect(linkPointsAt('abc', '/data/packages/win11@1', 'abc', 'linux')).toBe(true)
    expect(linkPointsAt('/data/packages/abc', '/data/packages/win11@1', 'abc', 'linux')).toBe(false)
    expect(packageLink('C:\\data\\packages\\win11@1', 'abc', 'win32')).toEqual({ target: 'C:\\data\\packages\\abc', type: 'junction' })
    // readlink of a junction may give the long-path form, another case, a trailing separator.
    expect(linkPointsAt('\\\\?\\c:\\Data\\packages\\ABC\\', 'C:\\data\\packages\\win11@1', 'abc', 'win32')).toBe(true)
    expect(linkPointsAt('C:\\data\\packages\\abd', 'C:\\data\\packages\\win11@1', 'abc', 'win32')).toBe(false)
  })

  it('a store held to Windows names refuses such a package before it records or makes anything; a Linux one takes it', async () => {
    const dir = tempDir()
    sampleTree(join(dir, 'src'))
    const packed = await packSample(join(dir, 'src'))
    // A publisher's packer that let a trailing dot through (this one's pack refuses it).
    const text = resigned(jsonOf(packed), packed.key, (m) => { m.files.find((f: { path: string }) => f.path === 'setup.cmd').path = 'setup.cmd.' })
    const signed = parseManifest(text)
    const windows = await Store.open(join(dir, 'win-db'), { platform: 'win32' })
    try {
      const err = await windows.addPackage(signed, join(dir, 'win-out')).then(() => undefined, (e: unknown) => e)
      expect(isPeerstageError(err, 'PEERSTAGE_NODE_STORE_PATH_UNWRITABLE')).toBe(true)
      expect((err as Error).message).toBe('win11@24H2 cannot be written on this system: setup.cmd.: name "setup.cmd." ends in a dot, which Windows strips; pack it again with names Windows allows')
      expect(existsSync(join(dir, 'win-out'))).toBe(false)
      expect(await windows.getPackage(signed.packageId)).toBeUndefined()
    } finally {
      await windows.close()
    }
    const linux = await Store.open(join(dir, 'linux-db'), { platform: 'linux' })
    try {
      await linux.addPackage(signed, join(dir, 'linux-out'))
      expect(existsSync(join(dir, 'linux-out', 'setup.cmd.'))).toBe(true)
    } finally {
      await linux.close()
    }
  })
})
