import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { announceJson } from '../../tracker/announce-json.ts'
import { announceAnswer, type AnnounceAnswer } from '../../tracker/index.ts'
import { announceOf, peerId, PKG, trackerAt } from './helpers.ts'

/** fastify's own serializer of the announce answer schema: what the route wrote before announce-json.ts. */
async function schemaSerializer(): Promise<(answer: Record<string, unknown>) => string> {
  const app = Fastify()
  let serialize: ((answer: Record<string, unknown>) => string) | undefined
  app.get('/', { schema: { response: { 200: announceAnswer } } }, async (_req, reply) => {
    serialize = reply.getSerializationFunction('200')
    return {}
  })
  await app.inject('/')
  await app.close()
  return serialize!
}

describe('the announce answer JSON', () => {
  it('is byte for byte what the schema serializer writes: peers of odd addresses, a lease, deployments, a DP\'s budgets', async () => {
    const serialize = await schemaSerializer()
    const { tracker } = await trackerAt()
    const odd = ['/ip4/0.0.0.0/tcp/1/"quoted"\\', '/dns/é.example/🚀', '/x/\ud800lone', `/${'long'.repeat(60)}`]
    await tracker.announce({ ...announceOf(peerId(), 'client', 10), addresses: odd }, '127.0.1.7')
    await tracker.announce(announceOf(peerId(), 'dp', 10), '127.0.10.1')
    const answers: AnnounceAnswer[] = [
      await tracker.announce(announceOf(peerId(), 'client', 0), '127.0.1.8'), // a lease, peers handed out from the registry
      await tracker.announce(announceOf(peerId(), 'dp', 3, 10, { packages: [{ id: PKG, have: 3, pieces: 10 }, { id: 'b'.repeat(64), have: 0, pieces: 5 }] }), '127.0.10.2'),
      {
        subnet: '127.0.9.0/24', site: null, intervalSeconds: 30,
        packages: [{ id: PKG, peers: [{ peerId: 'p"1', addresses: odd, tier: 'remote-dp', have: 1, pieces: 2 }], lease: { rateBytesPerSec: null, expiresAt: '2026-01-01T00:00:00.000Z', share: { index: 0, of: 1 } } }],
        deployments: [{ id: 'd-00000001', packageId: PKG, name: 'n', version: '1', program: 'run "x"', availableAt: 'a', mandatoryAt: 'm', expiresAt: null, jitterSeconds: 0 }],
      },
      { subnet: '127.0.9.0/24', site: 'a "site"', intervalSeconds: 30, packages: [], deployments: [] },
    ]
    expect(answers[0]!.packages[0]!.peers.length).toBeGreaterThan(0)
    expect(answers[0]!.packages[0]!.lease).not.toBeNull()
    expect(answers[1]!.budgets).toBeDefined()
    for (const a of answers) expect(announceJson(a, serialize)).toBe(serialize(a as unknown as Record<string, unknown>))
    await tracker.stop()
  })
})
