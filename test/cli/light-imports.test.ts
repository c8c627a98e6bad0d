import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { chunkerCommands } from '../../bin/chunker-commands.ts'
import { COMMANDS } from '../../bin/commands.ts'
import { deployCommands } from '../../bin/deploy-commands.ts'
import { nodeAdminCommands } from '../../bin/node-admin-commands.ts'
import { nodeCommands } from '../../bin/node-commands.ts'
import { packageCommands } from '../../bin/package-commands.ts'
import { trackerCommands } from '../../bin/tracker-commands.ts'
import { tempDir } from '../helpers/tmp.ts'

const BIN = fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

/** Preloaded into the CLI: records every module URL resolved (import and require) and writes them at exit. */
const RECORDER = `
import { registerHooks } from 'node:module'
import { writeFileSync } from 'node:fs'
const urls = new Set()
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); urls.add(r.url); return r } })
process.on('exit', () => writeFileSync(process.env.PEERSTAGE_RESOLVED_OUT, [...urls].join('\\n')))
`

/** Runs the real CLI and returns its exit code and the URLs of every module it resolved. */
function resolvedBy(args: string[]): Promise<{ code: number, urls: string[] }> {
  const out = join(tempDir(), 'resolved.txt')
  const env = { ...process.env, PEERSTAGE_RESOLVED_OUT: out }
  return new Promise((resolve) => {
    execFile(process.execPath, [`--import=data:text/javascript,${encodeURIComponent(RECORDER)}`, BIN, ...args], { env }, (err) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, urls: readFileSync(out, 'utf8').split('\n') })
    })
  })
}

/** The packages a command that only talks HTTP to a tracker has no use for. */
const HEAVY = ['libp2p', '@libp2p/tcp', '@libp2p/peer-id', '@libp2p/crypto', '@chainsafe/libp2p-noise', 'fastify', 'level', 'classic-level']

function heavyIn(urls: string[]): string[] {
  return HEAVY.filter((pkg) => urls.some((u) => u.includes(`/node_modules/${pkg}/`)))
}

// Nothing listens on port 1: the commands run, fail to reach it, and exit 1.
const NOWHERE = 'http://127.0.0.1:1'

describe('each command loads only what it uses', () => {
  it('peerstage --help loads no command module, and lists every command of the registry', async () => {
    const { code, urls } = await resolvedBy(['--help'])
    expect(code).toBe(0)
    expect(urls.filter((u) => /\/bin\/[^/]*-commands\.ts$/.test(u))).toEqual([])
    expect(urls.filter((u) => u.includes('/node_modules/'))).toEqual([])
  })

  it.each([
    [['deploy', '--help']],
    [['deploy', 'list', '--tracker', NOWHERE]],
    [['status', '--tracker', NOWHERE]],
    [['throttle', 'show', '--tracker', NOWHERE, '--token', 't', '--site', 'leeds']],
    [['package', 'list', '--tracker', NOWHERE]],
    [['node', 'release', '12D3KooWabc', '--tracker', NOWHERE, '--token', 't']],
  ])('peerstage %j loads neither libp2p nor fastify nor level', async (args) => {
    const { code, urls } = await resolvedBy(args)
    expect(code).toBe(args.includes('--help') ? 0 : 1)
    expect(urls.some((u) => u.endsWith('/tracker/protocol/client.ts'))).toBe(true)
    expect(heavyIn(urls)).toEqual([])
  })

  it('the recorder sees them where they are used: tracker --help loads fastify and level, dp --help libp2p', async () => {
    expect(heavyIn((await resolvedBy(['tracker', '--help'])).urls)).toEqual(expect.arrayContaining(['fastify', 'level']))
    expect(heavyIn((await resolvedBy(['dp', '--help'])).urls)).toEqual(expect.arrayContaining(['libp2p', '@libp2p/tcp']))
  })
})

describe('the command registry', () => {
  it('holds every command once, and each loader gives the command of its name', async () => {
    const defined = [...chunkerCommands, ...nodeCommands, ...trackerCommands, ...deployCommands, ...packageCommands, ...nodeAdminCommands]
    expect(COMMANDS.map((c) => c.name).sort()).toEqual(defined.map((c) => c.name).sort())
    for (const entry of COMMANDS) {
      const cmd = await entry.load()
      expect(cmd.name).toBe(entry.name)
      expect(defined).toContain(cmd)
      expect(cmd.help, entry.name).toMatch(new RegExp(`^Usage: peerstage ${entry.name}\\b`))
    }
  })
})
