#!/usr/bin/env node
/**
 * peerstage: one CLI; each subcommand lives beside the module it drives, and is loaded only
 * when it runs (commands.ts), so `--help` or `status` does not pay for libp2p or fastify.
 */
import { enableCompileCache } from 'node:module'
import { setFlagsFromString } from 'node:v8'
import { runCommand } from './cli.ts'
import { COMMANDS } from './commands.ts'
import { PEERSTAGE_VERSION, versionLine } from '../common/version.ts'

// Node keeps what it compiled (TypeScript stripped, V8 code) in a cache directory under the
// system's temporary directory, so the command module loaded below and its dependencies
// start from there on every run after the first. This file and the two above are stripped
// before this line runs: NODE_COMPILE_CACHE=DIR in the environment caches them too.
enableCompileCache()

/**
 * A node makes short-lived objects for every block, and V8 answers by growing its young
 * generation, which then stays resident (heap 153 MiB, of which ~25 MiB in use, in a 10 GiB
 * fetch). Kept at its starting size, the heap stays at 27–36 MiB: that fetch peaked at 320 MB
 * instead of 407 MB and took 51 s instead of 57 s (55.7 CPU-s instead of 66.4). V8 reads this
 * flag whenever it would grow the young generation, so setting it now works (unlike
 * --max-semi-space-size, read only at start); it is set before the command's modules load,
 * which grew it too.
 */
function keepYoungGenerationSmall(): void {
  setFlagsFromString('--semi-space-growth-factor=1')
}

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `peerstage: move OS image packages across a WAN, verified chunk by chunk.

Usage: peerstage COMMAND [options]    (peerstage COMMAND --help for each)

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Add --json to any command for one JSON document on stdout.
peerstage --version prints the version of peerstage and of the Node running it.`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`)
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-V') {
    // --json: one document, as every command; the Node version shows which runtime a service really runs on.
    process.stdout.write(rest.includes('--json') ? `${JSON.stringify({ version: PEERSTAGE_VERSION, node: process.version })}\n` : `${versionLine()}\n`)
    return 0
  }
  const entry = COMMANDS.find((c) => c.name === name)
  if (entry === undefined) {
    process.stderr.write(`peerstage: unknown command '${name}'. Try 'peerstage --help'.\n`)
    return 2
  }
  if (entry.movesBlocks === true) keepYoungGenerationSmall()
  return runCommand(await entry.load(), rest)
}

// A reader that stops early (`peerstage deploy create … | head -1`) is no failure of the
// command: the rest of its output is dropped and it ends with its own exit code. Node
// ignores SIGPIPE, so without this the write's EPIPE is an uncaught stack trace, exit 1.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
}

// Not top-level await: the single executable (scripts/build-binary.ts) runs this file as CommonJS.
void main(process.argv.slice(2)).then(async (code) => {
  // Whatever the command started is stopped by now (daemons return on a signal). End at once:
  // libp2p's address manager leaves a 1 s timer behind after it stops, which kept every fetch
  // alive a second after its summary. Output already written is flushed first.
  await Promise.all([process.stdout, process.stderr].map((s) => new Promise<void>((resolve) => s.write('', () => resolve()))))
  process.exit(code)
})
