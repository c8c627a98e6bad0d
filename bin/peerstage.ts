#!/usr/bin/env node
/**
 * peerstage: one CLI; each subcommand lives beside the module it drives.
 */
import { chunkerCommands } from './chunker-commands.ts'
import { runCommand, type Command } from './cli.ts'
import { deployCommands } from './deploy-commands.ts'
import { nodeAdminCommands } from './node-admin-commands.ts'
import { nodeCommands } from './node-commands.ts'
import { packageCommands } from './package-commands.ts'
import { trackerCommands } from './tracker-commands.ts'

const commands: Command[] = [...chunkerCommands, ...nodeCommands, ...trackerCommands, ...deployCommands, ...packageCommands, ...nodeAdminCommands]

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return `peerstage: move OS image packages across a WAN, verified chunk by chunk.

Usage: peerstage COMMAND [options]    (peerstage COMMAND --help for each)

Commands:
${commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Add --json to any command for one JSON document on stdout.`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${mainHelp()}\n`)
    return name === undefined ? 2 : 0
  }
  if (name === '--version') {
    process.stdout.write('peerstage 0.1.0\n')
    return 0
  }
  const cmd = commands.find((c) => c.name === name)
  if (cmd === undefined) {
    process.stderr.write(`peerstage: unknown command '${name}'. Try 'peerstage --help'.\n`)
    return 2
  }
  return runCommand(cmd, rest)
}

// A reader that stops early (`peerstage deploy create … | head -1`) is no failure of the
// command: the rest of its output is dropped and it ends with its own exit code. Node
// ignores SIGPIPE, so without this the write's EPIPE is an uncaught stack trace, exit 1.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
}

process.exitCode = await main(process.argv.slice(2))
