import type { Command } from './cli.ts'

/**
 * One entry per CLI command: its name and one-line summary, which `peerstage --help`
 * lists, and how to load the module that defines it (help, options, run). Nothing here is
 * imported until a command runs, so each command loads only what it uses: `status` and
 * `deploy` never load libp2p or fastify, `--help` loads no command at all. A command's
 * summary lives here only; test/cli/light-imports.test.ts checks each loader gives the
 * command of that name.
 */
export interface CommandEntry {
  name: string
  summary: string
  /** Moves package blocks for as long as it runs (dp, fetch, client): see keepYoungGenerationSmall in peerstage.ts. */
  movesBlocks?: true
  load(): Promise<Command>
}

export const COMMANDS: readonly CommandEntry[] = [
  { name: 'keygen', summary: 'make an Ed25519 publisher key pair',
    load: async () => (await import('./chunker-commands.ts')).keygen },
  { name: 'pack', summary: 'chunk, hash and sign a file or directory into a manifest',
    load: async () => (await import('./chunker-commands.ts')).packCommand },
  { name: 'verify', summary: 'check every chunk of a directory against a signed manifest',
    load: async () => (await import('./chunker-commands.ts')).verifyCommand },
  { name: 'inspect', summary: 'show what a manifest holds',
    load: async () => (await import('./chunker-commands.ts')).inspect },
  { name: 'diff', summary: 'how much of a new version a holder of the old one must fetch',
    load: async () => (await import('./chunker-commands.ts')).diff },
  { name: 'swarm-key', summary: 'make the pre-shared key every node of a swarm needs',
    load: async () => (await import('./node-commands.ts')).swarmKey },
  { name: 'dp', summary: 'run a distribution point that seeds packages',
    movesBlocks: true,
    load: async () => (await import('./node-commands.ts')).dp },
  { name: 'fetch', summary: 'download a package from peers, verified, resumable',
    movesBlocks: true,
    load: async () => (await import('./node-commands.ts')).fetch },
  { name: 'client', summary: 'run a branch client as a service: pre-stage, verify and run deployments',
    movesBlocks: true,
    load: async () => (await import('./node-commands.ts')).client },
  { name: 'tracker', summary: 'run the tracker: locality peers, WAN leases, per-subnet budgets; back up and restore its state',
    load: async () => (await import('./tracker-commands.ts')).tracker },
  { name: 'throttle', summary: 'show or change a site\'s or subnet\'s WAN windows on the tracker',
    load: async () => (await import('./tracker-admin-commands.ts')).throttle },
  { name: 'status', summary: 'per site and subnet: nodes, WAN leases, budgets, bytes over the WAN, deployments; or (--packages) every DP\'s replicas',
    load: async () => (await import('./tracker-admin-commands.ts')).status },
  { name: 'deploy', summary: 'create, list, show or cancel deployments of a signed package on the tracker',
    load: async () => (await import('./deploy-commands.ts')).deploy },
  { name: 'package', summary: 'add, list or remove the packages DPs replicate to the sites (the tracker\'s catalogue)',
    load: async () => (await import('./package-commands.ts')).packageCommand },
  { name: 'node', summary: 'release a node\'s peer id on the tracker, so it may announce from another subnet',
    load: async () => (await import('./node-admin-commands.ts')).nodeAdminCommand },
]
