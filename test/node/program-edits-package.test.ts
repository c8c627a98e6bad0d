import { chmodSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { pack, verifyDirectory } from '../../chunker/index.ts'
import { runProgram } from '../../node/client/index.ts'
import { materialize } from '../../node/staging/index.ts'
import { newSwarmKey, startNode, untilComplete } from '../helpers/nodes.ts'
import { testKey, writeTree } from '../helpers/packages.ts'
import { pseudoRandomBytes, tempDir } from '../helpers/tmp.ts'

/** Where the program rewrites one byte of install.wim: inside its second piece or later. */
const EDIT_AT = 2_500_000
/** Rewrites a byte of install.wim where it runs, and appends a line to notes.txt: what an installer that keeps state in its own files does. */
const EDIT_SH = `#!/bin/sh\nprintf 'X' | dd of=install.wim bs=1 seek=${EDIT_AT} count=1 conv=notrunc 2>/dev/null\necho "ran at $(date +%s)" >> notes.txt\n`

describe('a program that edits its own package', () => {
  it('does not make its client seed the changed bytes: the piece is re-checked, not served, fetched again; nobody strikes the client', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(4_000_000, 11), 'notes.txt': 'installed by peerstage\n', 'edit.sh': EDIT_SH })
    chmodSync(join(src, 'edit.sh'), 0o755)
    const signed = await pack(src, { name: 'win11', version: '1', privateKey: testKey(), programs: [{ name: 'edit', command: './edit.sh', args: [] }] })
    const wim = signed.manifest.files.findIndex((f) => f.path === 'install.wim')
    const edited = signed.manifest.pieces.findIndex((p) => p.file === wim && p.offset <= EDIT_AT && EDIT_AT < p.offset + p.length)
    expect(edited).toBeGreaterThanOrEqual(0)

    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(signed, src)
    // Client A fetches from the DP, materializes and runs the program in the package directory, as a deployment does.
    const a = await startNode(join(dir, 'a'), key, '127.0.1.1')
    const swarmA = await a.want(signed, join(dir, 'a', 'staging'))
    await a.connect(signed.packageId, dp.addresses[0]!)
    await untilComplete(a, signed.packageId)
    const root = await materialize(swarmA.pkg, join(dir, 'a'))
    const run = await runProgram({ command: './edit.sh', args: [], cwd: root, env: process.env, logPath: join(dir, 'a', 'logs', 'edit.log') })
    expect(run.exitCode).toBe(0)
    expect(readFileSync(join(root, 'install.wim'))[EDIT_AT]).toBe('X'.charCodeAt(0))
    const refetched: Array<{ piece: number, from: string }> = []
    swarmA.on('piece', (piece, from) => refetched.push({ piece, from }))

    // Client B fetches from A alone, striking (and banning) at the first bad piece.
    const b = await startNode(join(dir, 'b'), key, '127.0.1.2', { swarm: { maxStrikes: 1 } })
    const out = join(dir, 'b', 'out')
    const swarmB = await b.want(signed, out)
    const banned: string[] = []
    swarmB.on('ban', (peer) => banned.push(peer))
    await b.connect(signed.packageId, a.addresses[0]!)
    // Asked for the edited file's pieces, A hashes them again, finds the edited one bad, marks it
    // missing, closes B's wire (B was told A had it), and fetches it again from the DP.
    for (let i = 0; i < 400 && refetched.length === 0; i++) await new Promise((r) => setTimeout(r, 50))
    expect(swarmB.peerCount).toBe(0)
    // B, dialling A again (as its announcer would), gets A's bitfield as it is now, and the rest.
    await b.connect(signed.packageId, a.addresses[0]!)
    await untilComplete(b, signed.packageId, 30_000)

    // B got only the package's bytes, and never struck A.
    expect((await verifyDirectory(signed.manifest, out)).ok).toBe(true)
    expect(banned).toEqual([])
    // A found the edited piece bad when asked for it, fetched it again from the DP, and serves the original now.
    expect(refetched).toEqual([{ piece: edited, from: dp.peerId }])
    expect(readFileSync(join(root, 'install.wim')).equals(readFileSync(join(src, 'install.wim')))).toBe(true)
    // The appended file's pieces still hash right (appending changes no chunk): checked, kept, served.
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('installed by peerstage\n')
    expect(swarmA.pkg.complete).toBe(true)
  }, 60_000)

  it('stops seeding a piece the program changed when no peer can give it back', async () => {
    const dir = tempDir()
    const key = newSwarmKey(dir)
    const src = join(dir, 'src')
    writeTree(src, { 'install.wim': pseudoRandomBytes(4_000_000, 12), 'notes.txt': 'x\n', 'edit.sh': EDIT_SH })
    chmodSync(join(src, 'edit.sh'), 0o755)
    const signed = await pack(src, { name: 'win11', version: '1', privateKey: testKey(), programs: [{ name: 'edit', command: './edit.sh', args: [] }] })
    const wim = signed.manifest.files.findIndex((f) => f.path === 'install.wim')
    const edited = signed.manifest.pieces.findIndex((p) => p.file === wim && p.offset <= EDIT_AT && EDIT_AT < p.offset + p.length)

    const dp = await startNode(join(dir, 'dp'), key, '127.0.10.1')
    await dp.seed(signed, src)
    const a = await startNode(join(dir, 'a'), key, '127.0.1.1')
    const swarmA = await a.want(signed, join(dir, 'a', 'staging'))
    await a.connect(signed.packageId, dp.addresses[0]!)
    await untilComplete(a, signed.packageId)
    await dp.stop() // no one to repair from
    const root = await materialize(swarmA.pkg, join(dir, 'a'))
    expect((await runProgram({ command: './edit.sh', args: [], cwd: root, env: process.env, logPath: join(dir, 'a', 'edit.log') })).exitCode).toBe(0)

    const b = await startNode(join(dir, 'b'), key, '127.0.1.2', { swarm: { maxStrikes: 1 } })
    const swarmB = await b.want(signed, join(dir, 'b', 'out'))
    const banned: string[] = []
    swarmB.on('ban', (peer) => banned.push(peer))
    await b.connect(signed.packageId, a.addresses[0]!)
    // A finds the edited piece bad, marks it missing and closes B's wire; B dials again.
    for (let i = 0; i < 400 && swarmA.pkg.have.get(edited); i++) await new Promise((r) => setTimeout(r, 50))
    expect(swarmA.pkg.have.get(edited)).toBe(false)
    for (let i = 0; i < 400 && swarmB.peerCount > 0; i++) await new Promise((r) => setTimeout(r, 50))
    await b.connect(signed.packageId, a.addresses[0]!)
    // Every piece but the edited one arrives; that one is never sent.
    const others = signed.manifest.pieces.length - 1
    for (let i = 0; i < 300 && swarmB.pkg.have.count() < others; i++) await new Promise((r) => setTimeout(r, 50))
    expect(swarmB.pkg.have.count()).toBe(others)
    expect(swarmB.pkg.have.get(edited)).toBe(false)
    expect(swarmA.pkg.have.get(edited)).toBe(false)
    expect(banned).toEqual([])
  }, 60_000)
})
