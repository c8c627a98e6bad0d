/**
 * The `peerstage` command is bin/peerstage.js: on Node 24 it runs the CLI; on an older Node
 * (a machine's own /usr/bin/node) it says in one sentence which Node to use, where the .ts
 * entry would fail with ERR_UNKNOWN_FILE_EXTENSION. Run under a real older Node when the
 * machine has one.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { CliErrorCodes } from '../../bin/cli.ts'
import { buildBundle } from '../../scripts/build.ts'
import { tempDir } from '../helpers/tmp.ts'

/** What --version prints here: package.json's version and the Node running it. */
const VERSION_LINE = `peerstage ${JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version} (node ${process.version})`

const CHECKOUT = fileURLToPath(new URL('../../', import.meta.url))
const LAUNCHER = join(CHECKOUT, 'bin/peerstage.js')

/** A Node older than 24 on this machine (PEERSTAGE_OLD_NODE, or the system's), if there is one. */
function olderNode(): string | undefined {
  for (const candidate of [process.env.PEERSTAGE_OLD_NODE, '/usr/bin/node', '/usr/local/bin/node']) {
    if (candidate === undefined || !existsSync(candidate)) continue
    const version = execFileSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim()
    if (Number(version.split('.')[0]) < 24) return candidate
  }
  return undefined
}

const OLD_NODE = olderNode()
if (OLD_NODE === undefined) console.info('no Node older than 24 here (set PEERSTAGE_OLD_NODE=PATH): the old-Node cases are skipped')

describe('the peerstage launcher', () => {
  it('is the package\'s bin and runs the CLI on Node 24', () => {
    expect(JSON.parse(readFileSync(join(CHECKOUT, 'package.json'), 'utf8')).bin).toEqual({ peerstage: 'bin/peerstage.js' })
    const run = spawnSync(process.execPath, [LAUNCHER, '--version'], { encoding: 'utf8' })
    expect(run.stderr).toBe('')
    expect(run.stdout).toBe(`${VERSION_LINE}\n`)
    expect(run.status).toBe(0)
  })

  it.skipIf(OLD_NODE === undefined)('on an older Node says which Node to use, in one sentence, exit 2', () => {
    const run = spawnSync(OLD_NODE!, [LAUNCHER, 'status', '--tracker', 'http://127.0.0.1:9'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    expect(run.stdout).toBe('')
    expect(run.stderr).not.toContain('ERR_UNKNOWN_FILE_EXTENSION')
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(run.stderr).toContain(`Node 24 or later is needed, and ${OLD_NODE} is Node `)
    expect(run.stderr).toContain(`\`npx peerstage\` inside ${CHECKOUT}, or as ${CHECKOUT}node_modules/.bin/node ${LAUNCHER}.`)
  })

  it.skipIf(OLD_NODE === undefined)('with --json prints the error document with its code', () => {
    const run = spawnSync(OLD_NODE!, [LAUNCHER, 'inspect', 'x.manifest.json', '--json'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    const { error } = JSON.parse(run.stdout) as { error: { code: string, message: string } }
    expect(error.code).toBe(CliErrorCodes.NODE_TOO_OLD)
    expect(error.message).toMatch(/^Node 24 or later is needed/)
  })

  it.skipIf(OLD_NODE === undefined)('guards the bundle too, naming the bundle to run', async () => {
    const dist = tempDir()
    await buildBundle(dist)
    const run = spawnSync(OLD_NODE!, [join(dist, 'peerstage.mjs'), '--version'], { encoding: 'utf8' })
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(`node_modules/.bin/node ${join(dist, 'peerstage.mjs')}.`)
    const current = spawnSync(process.execPath, [join(dist, 'peerstage.mjs'), '--version'], { encoding: 'utf8' })
    expect(current.stdout).toBe(`${VERSION_LINE}\n`)
  })
})
