import { resolve } from 'node:path'
import {
  ChunkerErrorCodes, diffManifests, generatePublisherKeys, loadPrivateKey, loadPublicKey, pack, parseProgramSpec, publisherOf, readManifest,
  verifyDirectory, chunkHash, type Program,
} from '../chunker/index.ts'
import { PeerstageError, createProgress, formatBytes, writeFileAtomic, writeLine } from '../common/index.ts'
import { CliErrorCodes, requireString, stringList, usageError, type Command, type CommandContext } from './cli.ts'

function progressFor(ctx: CommandContext, label: string): (done: number, total: number) => void {
  if (ctx.json) return () => {}
  let bar: ReturnType<typeof createProgress> | undefined
  let finished = false
  return (done, total) => {
    if (finished) return
    bar ??= createProgress({ label, totalBytes: total })
    bar.update(done)
    if (done >= total) {
      finished = true
      bar.done()
    }
  }
}

function rate(bytes: number, seconds: number): string {
  return seconds > 0 ? `${formatBytes(bytes / seconds)}/s` : '-'
}

export const keygen: Command = {
  name: 'keygen',
  help: `Usage: peerstage keygen --out DIR [--json]

Writes DIR/publisher.key (private, mode 0600; keep it with the imaging team) and
DIR/publisher.pub (give it to every DP and client as --trust). Never overwrites a key.

Exit codes: 0 written; 2 usage, or a key already exists.`,
  options: { out: { type: 'string' } },
  positionals: 0,
  async run(ctx) {
    const keys = generatePublisherKeys(requireString(ctx, 'out'))
    if (ctx.json) ctx.printJson(keys)
    else ctx.print(`private key: ${keys.privateKeyPath}\npublic key:  ${keys.publicKeyPath}\npublisher:   ${keys.publisher}`)
    return 0
  },
}

export const packCommand: Command = {
  name: 'pack',
  help: `Usage: peerstage pack SOURCE --name NAME --version VER --key KEYFILE
                      [--program NAME=COMMAND]... [--long-paths] [--out FILE] [--json]

SOURCE is one file or a directory (every regular file below it; symlinks are refused).
Writes the signed manifest to FILE (default NAME@VER.manifest.json), atomically.
Paths Windows cannot write are refused: reserved names (CON, NUL.txt, COM1...), the
characters < > : " | ? * and control characters, names ending in a dot or a space, two
paths differing only in case, and paths over 260 characters unless --long-paths.

  --name NAME           package name: letters, digits, . _ + -
  --version VER         package version, same characters
  --key KEYFILE         publisher private key (from peerstage keygen)
  --program NAME=CMD    a program clients may run, e.g. install="setup.cmd /unattend"; repeatable
  --long-paths          allow paths over 260 characters (the manifest says longPaths: true;
                        its Windows targets must have long paths enabled)
  --out FILE            where to write the manifest
  --json                print {packageId, files, chunks, pieces, bytes, seconds, ...} only

Exit codes: 0 packed; 1 a source file changed while packing, or the manifest could not be
written; 2 usage or unreadable input.`,
  options: {
    name: { type: 'string' },
    version: { type: 'string' },
    key: { type: 'string' },
    program: { type: 'string', multiple: true },
    'long-paths': { type: 'boolean' },
    out: { type: 'string' },
  },
  positionals: 1,
  async run(ctx) {
    const name = requireString(ctx, 'name')
    const version = requireString(ctx, 'version')
    const privateKey = loadPrivateKey(requireString(ctx, 'key'))
    let programs: Program[]
    try {
      programs = stringList(ctx, 'program').map(parseProgramSpec)
    } catch (err) {
      throw usageError((err as Error).message)
    }
    const out = resolve(typeof ctx.values.out === 'string' ? ctx.values.out : `${name}@${version}.manifest.json`)
    const started = performance.now()
    const result = await pack(ctx.positionals[0], { name, version, privateKey, programs, longPaths: ctx.values['long-paths'] === true, onProgress: progressFor(ctx, 'packing') })
    try {
      writeFileAtomic(out, `${result.canonical}\n`)
    } catch (err) {
      throw new PeerstageError(ChunkerErrorCodes.PACK_OUTPUT_UNWRITABLE, `cannot write the manifest to ${out}: ${(err as Error).message}`, { cause: err })
    }
    const seconds = (performance.now() - started) / 1000
    const m = result.manifest
    if (ctx.json) {
      ctx.printJson({
        packageId: result.packageId, name, version, manifest: out, publisher: m.publisher,
        files: m.files.length, chunks: m.chunks.count, pieces: m.pieces.length, bytes: result.totalBytes, seconds,
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
      })
    } else {
      ctx.print(`packed ${name}@${version}: ${m.files.length} file(s), ${formatBytes(result.totalBytes)}, ${m.chunks.count} chunks, ` +
        `${m.pieces.length} pieces in ${seconds.toFixed(1)} s (${rate(result.totalBytes, seconds)})`)
      ctx.print(`package id: ${result.packageId}`)
      ctx.print(`manifest:   ${out}`)
    }
    return 0
  },
}

/** The publishers named by `--trust` files, or undefined (any valid signature) without one. */
export function trustedKeys(ctx: CommandContext): string[] | undefined {
  const files = stringList(ctx, 'trust')
  return files.length === 0 ? undefined : files.map((f) => publisherOf(loadPublicKey(f)))
}

/** The options of a command that checks a manifest's publisher only when told whom to trust. */
export const TRUST_OPTIONS = { trust: { type: 'string', multiple: true }, 'require-trust': { type: 'boolean' } } as const

/** Their help lines, the same for `fetch` and `verify`. */
export const TRUST_HELP = `  --trust PUBFILE       accept only manifests signed by one of these publishers (repeat for
                        several); without it any valid signature passes, and stderr says so
  --require-trust       refuse to run without --trust (${CliErrorCodes.TRUST_REQUIRED}, exit 2)`

/**
 * The publishers `--trust` names, or undefined when there is none: then a command that says
 * "verified" has checked the bytes against the manifest, not who signed it (a signature any
 * key could make). `--require-trust` makes that an error before anything is read.
 */
export function publishersToTrust(ctx: CommandContext): string[] | undefined {
  const trusted = trustedKeys(ctx)
  if (trusted === undefined && ctx.values['require-trust'] === true) {
    throw new PeerstageError(CliErrorCodes.TRUST_REQUIRED, '--require-trust is set but no --trust PUBFILE names the publishers to accept: give the publisher.pub of whoever signs your packages')
  }
  return trusted
}

/** The one stderr line that qualifies a "verified" made without --trust. */
export function warnPublisherUnchecked(command: string): void {
  writeLine(`peerstage ${command}: the publisher was not checked (no --trust): anyone could have signed this manifest; give --trust PUBFILE, or --require-trust to refuse`)
}

export const verifyCommand: Command = {
  name: 'verify',
  help: `Usage: peerstage verify MANIFEST DIR [--trust PUBFILE]... [--require-trust] [--json]

Checks the manifest's signature (and, with --trust, that its publisher is one of the given
keys), then hashes every chunk of every file under DIR. Extra files in DIR are ignored.

${TRUST_HELP}

Exit codes: 0 intact; 1 a file is missing or differs (each named, with the byte range of
each bad chunk); 2 usage, or a manifest that is unreadable, invalid, tampered or untrusted.`,
  options: TRUST_OPTIONS,
  positionals: 2,
  async run(ctx) {
    const [manifestPath, dir] = ctx.positionals as [string, string]
    const trusted = publishersToTrust(ctx)
    const { manifest, packageId } = readManifest(manifestPath, trusted === undefined ? {} : { trusted })
    const started = performance.now()
    const report = await verifyDirectory(manifest, dir, { onProgress: progressFor(ctx, 'verifying') })
    const seconds = (performance.now() - started) / 1000
    if (ctx.json) {
      ctx.printJson({ ok: report.ok, packageId, name: manifest.name, version: manifest.version, publisherChecked: trusted !== undefined, totalBytes: report.totalBytes, goodBytes: report.goodBytes, seconds, files: report.files })
      if (report.ok && trusted === undefined) warnPublisherUnchecked('verify')
      return report.ok ? 0 : 1
    }
    for (const f of report.files) {
      if (f.status === 'missing') ctx.print(`MISSING ${f.path}`)
      if (f.status !== 'bad') continue
      const sizeNote = f.actualSize !== f.expectedSize ? ` (size ${f.actualSize}, expected ${f.expectedSize})` : ''
      ctx.print(`BAD ${f.path}${sizeNote}`)
      for (const c of f.badChunks) ctx.print(`  chunk ${c.index}: bytes ${c.offset}-${c.offset + c.length - 1} (${c.length} bytes)`)
    }
    const bad = report.files.filter((f) => f.status !== 'ok').length
    ctx.print(report.ok
      ? `OK ${manifest.name}@${manifest.version}: ${report.files.length} file(s), ${formatBytes(report.totalBytes)} verified in ${seconds.toFixed(1)} s`
      : `FAILED ${manifest.name}@${manifest.version}: ${bad} of ${report.files.length} file(s) missing or damaged; ${formatBytes(report.totalBytes - report.goodBytes)} to repair`)
    if (report.ok && trusted === undefined) warnPublisherUnchecked('verify')
    return report.ok ? 0 : 1
  },
}

export const inspect: Command = {
  name: 'inspect',
  help: `Usage: peerstage inspect MANIFEST [--chunks] [--json]

Shows name, version, package id, publisher, sizes, files and programs; the signature is
checked. With --chunks, every file's chunks in order as offset, length, sha256
(with --json: files[].chunks[] of {offset, length, sha256}).

Exit codes: 0 shown; 2 usage, or an unreadable or invalid manifest.`,
  options: { chunks: { type: 'boolean' } },
  positionals: 1,
  async run(ctx) {
    const { manifest: m, packageId } = readManifest(ctx.positionals[0])
    const withChunks = ctx.values.chunks === true
    const files = m.files.map((f) => {
      const entry: Record<string, unknown> = { path: f.path, size: f.size, mode: `0${f.mode.toString(8)}`, chunkCount: f.chunkCount }
      if (withChunks) {
        const chunks = []
        for (let k = f.firstChunk, offset = 0; k < f.firstChunk + f.chunkCount; offset += m.chunks.sizes[k++]) {
          chunks.push({ offset, length: m.chunks.sizes[k], sha256: chunkHash(m.chunks, k) })
        }
        entry.chunks = chunks
      }
      return entry
    })
    const bytes = m.files.reduce((n, f) => n + f.size, 0)
    const summary = {
      packageId, name: m.name, version: m.version, createdAt: m.createdAt, publisher: m.publisher, chunking: m.chunking,
      bytes, chunks: m.chunks.count, pieces: m.pieces.length, programs: m.programs, files,
    }
    if (ctx.json) {
      ctx.printJson(summary)
      return 0
    }
    ctx.print(`${m.name}@${m.version}\n  package id: ${packageId}\n  publisher:  ${m.publisher}\n  created:    ${m.createdAt}`)
    ctx.print(`  size:       ${formatBytes(bytes)} (${bytes} bytes) in ${m.files.length} file(s), ${m.chunks.count} chunks, ${m.pieces.length} pieces`)
    ctx.print(`  chunking:   ${m.chunking.algorithm} ${m.chunking.min}/${m.chunking.avg}/${m.chunking.max}, normalization ${m.chunking.normalization}`)
    for (const p of m.programs) ctx.print(`  program ${p.name}: ${[p.command, ...p.args].map((a) => (/[\s"']/.test(a) ? JSON.stringify(a) : a)).join(' ')}`)
    for (const f of files) {
      ctx.print(`  ${String(f.mode)} ${String(f.size).padStart(14)} ${String(f.path)}`)
      for (const c of (f.chunks as Array<{ offset: number, length: number, sha256: string }> | undefined) ?? []) {
        ctx.print(`      ${String(c.offset).padStart(14)} ${String(c.length).padStart(8)} ${c.sha256}`)
      }
    }
    return 0
  },
}

export const diff: Command = {
  name: 'diff',
  help: `Usage: peerstage diff OLD_MANIFEST NEW_MANIFEST [--json]

Counts the bytes of NEW whose chunks OLD already has (reused locally) and the bytes a site
holding OLD must still fetch (each distinct new chunk once).

Exit codes: 0 shown; 2 usage, or an unreadable or invalid manifest.`,
  options: {},
  positionals: 2,
  async run(ctx) {
    const older = readManifest(ctx.positionals[0])
    const newer = readManifest(ctx.positionals[1])
    const d = diffManifests(older.manifest, newer.manifest)
    if (ctx.json) {
      ctx.printJson({ old: older.packageId, new: newer.packageId, ...d })
      return 0
    }
    ctx.print(`${newer.manifest.name}@${newer.manifest.version}: ${formatBytes(d.totalBytes)}`)
    ctx.print(`  already in ${older.manifest.name}@${older.manifest.version}: ${formatBytes(d.reusedBytes)} (${(d.reuseRatio * 100).toFixed(2)} %, ${d.reusedChunks} chunks)`)
    ctx.print(`  to fetch: ${formatBytes(d.fetchBytes)} (${d.fetchChunks} chunks)`)
    return 0
  },
}

export const chunkerCommands = [keygen, packCommand, verifyCommand, inspect, diff]
