import { generateSwarmKeyFile } from '../node/index.ts'
import { requireString, type Command } from './cli.ts'

export const swarmKey: Command = {
  name: 'swarm-key',
  summary: 'make the pre-shared key every node of a swarm needs',
  help: `Usage: peerstage swarm-key --out FILE [--json]

Writes a new private-network key (libp2p pnet format, mode 0600) to FILE. Give the same
file to every DP and client of the organisation: a node without it cannot connect to any
of them. Never overwrites an existing file.

Exit codes: 0 written; 2 usage, or FILE exists.`,
  options: { out: { type: 'string' } },
  positionals: 0,
  async run(ctx) {
    const out = requireString(ctx, 'out')
    generateSwarmKeyFile(out)
    if (ctx.json) ctx.printJson({ swarmKey: out })
    else ctx.print(`swarm key: ${out} (copy it to every node of the swarm; keep it secret)`)
    return 0
  },
}

export const nodeCommands = [swarmKey]
