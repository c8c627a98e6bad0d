import { usageError, type Command } from './cli.ts'
import { trackerClient } from './tracker-cli.ts'
import { ADMIN_TOKEN, tokenOption, trackerAccessOptions } from './tracker-access.ts'

export const nodeAdminCommand: Command = {
  name: 'node',
  help: `Usage: peerstage node release PEERID --tracker URL --token T [--json]

A peer id is bound to the subnet it first announced from: an announce from another subnet
is refused (PEERSTAGE_TRACKER_PEER_BOUND) until its registration expires. 'release' forgets
the node now — its registration, leases and subnet binding — so a machine that moved (or
was re-imaged into another subnet) is accepted at its next announce.

  --token T   the tracker's adminToken; or --token-file FILE, or PEERSTAGE_TOKEN (ps shows --token)
  --tracker-ca FILE  PEM CA (or self-signed) certificate of an https:// tracker

Exit codes: 0 released (or not registered: 'released: false'); 1 tracker unreachable;
2 usage, bad token.`,
  options: { tracker: { type: 'string' }, ...trackerAccessOptions(ADMIN_TOKEN) },
  positionals: [1, 2],
  async run(ctx) {
    const [action, peerId] = ctx.positionals
    if (action !== 'release') throw usageError(`unknown action '${action}': use release`)
    if (peerId === undefined) throw usageError('release needs the node\'s peer id (the node prints it at start; the refusal names it)')
    const client = trackerClient(ctx, tokenOption(ctx, ADMIN_TOKEN, true))
    try {
      const r = await client.releaseNode(peerId)
      if (ctx.json) ctx.printJson(r)
      else ctx.print(r.released ? `released ${peerId}: it may announce from any subnet now` : `${peerId} is not registered: nothing to release`)
      return 0
    } finally {
      client.close()
    }
  },
}

export const nodeAdminCommands = [nodeAdminCommand]
