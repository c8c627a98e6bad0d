import { execFile, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Level } from 'level'
import { afterEach, describe, expect, it } from 'vitest'
import { peerstage, startDaemon, type CliResult } from '../helpers/cli.ts'
import { tempDir } from '../helpers/tmp.ts'

const BIN = fileURLToPath(new URL('../../bin/peerstage.ts', import.meta.url))

const daemons: Array<() => Promise<void>> = []
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((stop) => stop()))
})

/** A config file in a fresh directory; the tracker listens on a free port. */
function setup(): { dir: string, config: string } {
  const dir = tempDir()
  const config = join(dir, 'tracker.yaml')
  writeFileSync(config, 'listen: 127.0.10.10:0\nadminToken: s3cret\ndpToken: dp-s3cret\n')
  return { dir, config }
}

/** A real LevelDB directory with a key in it, as a tracker that ran leaves it. */
async function levelDir(dir: string): Promise<string> {
  const db = new Level<string, string>(dir)
  await db.open()
  await db.put('registration!x', '{}')
  await db.close()
  return dir
}

/**
 * Runs `peerstage tracker` twice (without and with --json) and checks the one-line message,
 * exit 2 and the error object; returns the human run.
 */
async function refused(run: (json: boolean) => Promise<CliResult>, problem: string, message: RegExp): Promise<CliResult> {
  const human = await run(false)
  expect([human.code, human.stdout], human.stderr).toEqual([2, ''])
  expect(human.stderr.trim().split('\n'), human.stderr).toHaveLength(1)
  expect(human.stderr).toMatch(/^peerstage tracker: /)
  expect(human.stderr).toMatch(message)
  const json = await run(true)
  expect(json.code, json.stderr).toBe(2)
  expect(json.stderr).toBe('')
  expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'PEERSTAGE_TRACKER_DATA_DIR', details: { problem } })
  return human
}

const tracker = (config: string, data: string) => (json: boolean) => peerstage(['tracker', '--config', config, '--data', data, ...(json ? ['--json'] : [])])

describe('a bad tracker --data directory: one sentence, exit 2, no stack trace', () => {
  it('a corrupt CURRENT file (garbage written into it)', async () => {
    const { dir, config } = setup()
    const data = await levelDir(join(dir, 'state'))
    writeFileSync(join(data, 'CURRENT'), 'garbage\n')
    await refused(tracker(config, data), 'damaged', new RegExp(`the state directory ${data} is damaged \\(.*garbage: No such file or directory\\): restore it from a backup, or move it aside`))
    writeFileSync(join(data, 'CURRENT'), 'garbage without a newline')
    await refused(tracker(config, data), 'damaged', /is damaged \(Corruption: CURRENT file does not end with newline\)/)
  })

  it('a missing MANIFEST', async () => {
    const { dir, config } = setup()
    const data = await levelDir(join(dir, 'state'))
    for (const f of readdirSync(data)) if (f.startsWith('MANIFEST-')) rmSync(join(data, f))
    await refused(tracker(config, data), 'damaged', /is damaged \(IO error: .*MANIFEST-\d+: No such file or directory\)/)
  })

  it('a directory held by another running tracker', async () => {
    const { dir, config } = setup()
    const data = join(dir, 'state')
    const first = startDaemon(['tracker', '--config', config, '--data', data, '--json'])
    daemons.push(first.stop)
    await first.ready
    await refused(tracker(config, data), 'in-use', new RegExp(`the state directory ${data} is in use by another process \\(is a tracker already running with it\\?\\): stop that tracker, or give the tracker another --data$`, 'm'))
  })

  it('a directory held by a Level open in another process', async () => {
    const { dir, config } = setup()
    const data = join(dir, 'state')
    const db = new Level(data)
    await db.open()
    try {
      await refused(tracker(config, data), 'in-use', /is in use by another process/)
    } finally {
      await db.close()
    }
  })

  it('a file instead of a directory, or a file on the way to it', async () => {
    const { dir, config } = setup()
    const file = join(dir, 'state')
    writeFileSync(file, 'not a directory')
    await refused(tracker(config, file), 'not-a-directory', new RegExp(`the state directory ${file} is a file, not a directory: give the tracker another --data`))
    await refused(tracker(config, join(file, 'sub')), 'not-a-directory', /cannot be made: part of its path is a file/)
  })

  // Tests run as root, so chmod does not make a directory read-only: a read-only mount in a
  // private mount namespace does. Where unshare or mount is not allowed, this case cannot be made.
  it.skipIf(!canMountReadOnly())('a read-only mount: an existing state directory, and one still to be made (skipped without unshare -m and mount)', async () => {
    const { dir, config } = setup()
    const data = await levelDir(join(dir, 'state'))
    const ro = join(dir, 'ro')
    mkdirSync(ro)
    // Inside its own mount namespace: the read-only mounts vanish with the process.
    const readOnly = (target: string, setupMount: string) => (json: boolean) => new Promise<CliResult>((resolve) => {
      execFile('unshare', ['-m', 'sh', '-c', `${setupMount} && exec "$@"`, 'sh', process.execPath, BIN, 'tracker', '--config', config, '--data', target, ...(json ? ['--json'] : [])], (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
      })
    })
    await refused(readOnly(data, `mount --bind ${data} ${data} && mount -o remount,ro,bind ${data}`), 'read-only',
      new RegExp(`cannot write the state directory ${data} \\(IO error: .*LOCK: Read-only file system\\): make it writable, or give the tracker another --data`))
    await refused(readOnly(join(ro, 'state'), `mount -t tmpfs -o ro tmpfs ${ro}`), 'read-only', /cannot write the state directory .*ro\/state \(EROFS: read-only file system\)/)
  })
})

/** Can this machine mount a read-only tmpfs in a private mount namespace? */
function canMountReadOnly(): boolean {
  const dir = mkdtempSync(join(tmpdir(), 'peerstage-mount-probe-'))
  try {
    return spawnSync('unshare', ['-m', 'sh', '-c', `mount -t tmpfs -o ro tmpfs ${dir}`]).status === 0
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('defect 8 (nodes): a --data a node cannot use is one sentence and exit 2', () => {
  /** `peerstage dp --data DATA` with a real swarm key; the sentence, exit 2 and the --json error object. */
  async function dpRefused(dir: string, data: string, problem: string, message: RegExp): Promise<void> {
    const key = join(dir, 'swarm.key')
    if (!readdirSync(dir).includes('swarm.key')) expect((await peerstage(['swarm-key', '--out', key])).code).toBe(0)
    const human = await peerstage(['dp', '--data', data, '--swarm-key', key, '--listen', '/ip4/127.0.10.1/tcp/0'])
    expect([human.code, human.stdout], human.stderr).toEqual([2, ''])
    expect(human.stderr.trim().split('\n'), human.stderr).toHaveLength(1)
    expect(human.stderr).toMatch(message)
    const json = await peerstage(['dp', '--data', data, '--swarm-key', key, '--listen', '/ip4/127.0.10.1/tcp/0', '--json'])
    expect(json.code, json.stderr).toBe(2)
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'PEERSTAGE_NODE_STORE_DATA_DIR', details: { problem } })
  }

  it('a file instead of a directory, and a store held by another node', async () => {
    const dir = tempDir()
    const file = join(dir, 'node')
    writeFileSync(file, 'not a directory')
    await dpRefused(dir, file, 'not-a-directory', new RegExp(`^peerstage dp: the node's data directory ${file} is a file, not a directory: give the node another --data`))
    const data = join(dir, 'held')
    const db = new Level(join(data, 'db'))
    await db.open()
    try {
      await dpRefused(dir, data, 'in-use', /is in use by another process \(is a peerstage dp, client or fetch already running with it\?\): stop that one, or give the node another --data/)
    } finally {
      await db.close()
    }
  })
})
