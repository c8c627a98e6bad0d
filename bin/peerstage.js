#!/usr/bin/env node
/**
 * The `peerstage` command (package.json "bin", so `npx peerstage`; the bundle's entry too).
 * Plain JavaScript that any Node reads, so an older Node answers with one sentence naming
 * the Node to use, where loading the TypeScript entry would fail with
 * ERR_UNKNOWN_FILE_EXTENSION (or the bundle with a missing export of node:module).
 */
import module from 'node:module'
import { fileURLToPath } from 'node:url'

/** Node 24 strips types by itself and has every API libp2p and the CLI use. */
const NODE_MAJOR_NEEDED = 24
/** Written out here: this file cannot import the TypeScript table (bin/cli.ts, CliErrorCodes). */
const NODE_TOO_OLD = 'PEERSTAGE_CLI_NODE_TOO_OLD'

if (Number(process.versions.node.split('.')[0]) < NODE_MAJOR_NEEDED) {
  const checkout = fileURLToPath(new URL('..', import.meta.url))
  const message = `Node ${NODE_MAJOR_NEEDED} or later is needed, and ${process.execPath} is Node ${process.versions.node}: run peerstage as \`npx peerstage\` inside ${checkout}, or as ${checkout}node_modules/.bin/node ${fileURLToPath(import.meta.url)}.`
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify({ error: { code: NODE_TOO_OLD, message } }, null, 2)}\n`)
  else process.stderr.write(`peerstage: ${message}\n`)
  process.exitCode = 2
} else {
  // Before the entry loads, so Node caches the compiled entry and the two files it imports
  // too (the entry's own call comes after they are loaded).
  module.enableCompileCache()
  await import('./peerstage.ts')
}
