import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createTrackerConfig, MAX_ANNOUNCE_ADDRESSES, MAX_ANNOUNCE_BODY_BYTES, MAX_ANNOUNCE_PACKAGES, MAX_REASON_CHARS, MemoryTrackerStore, Tracker,
  type AnnounceRequest, type createTrackerServer,
} from '../../tracker/index.ts'
import { CONFIG, peerId, serveTracker, SigningTrackerClient } from './helpers.ts'

let tracker: Tracker
let app: ReturnType<typeof createTrackerServer>
let url: string
const clients: SigningTrackerClient[] = []

beforeAll(async () => {
  tracker = await Tracker.start(createTrackerConfig(CONFIG), { store: new MemoryTrackerStore() })
  ;({ app, url } = await serveTracker(tracker))
})

afterAll(async () => {
  for (const c of clients) c.close()
  await app.close()
  await tracker.stop()
})

function dp(): SigningTrackerClient {
  const c = new SigningTrackerClient({ url, localAddress: '127.0.10.1', token: 'dp-s3cret' })
  clients.push(c)
  return c
}

/**
 * A DP's announce of `n` packages at their largest: each failed with a reason of the longest
 * allowed, and uploads to 16 subnets; MAX_ANNOUNCE_ADDRESSES addresses.
 */
function bigDpAnnounce(id: string, n: number): AnnounceRequest {
  const uploaded = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`10.${i}.0.0/24`, 123_456_789_012]))
  return {
    peerId: id,
    role: 'dp',
    addresses: Array.from({ length: MAX_ANNOUNCE_ADDRESSES }, (_, i) => `/ip4/127.0.10.1/tcp/${40_000 + i}/p2p/${id}`),
    packages: Array.from({ length: n }, (_, i) => ({
      id: i.toString(16).padStart(64, '0'),
      have: 100_000,
      pieces: 100_000,
      bytes: { lan: 123_456_789_012, wan: 123_456_789_012, reused: 123_456_789_012 },
      uploaded,
      replica: { state: 'failed', presentBytes: 12_345_678_901_234, totalBytes: 12_345_678_901_234, reason: 'r'.repeat(MAX_REASON_CHARS), origin: 'replicated' },
    })),
  }
}

describe('the announce limits of tracker/protocol', () => {
  it('a DP announces 1,000 packages, and up to MAX_ANNOUNCE_PACKAGES at their largest within the body limit', async () => {
    expect(MAX_ANNOUNCE_PACKAGES).toBeGreaterThanOrEqual(1000)
    const thousand = await dp().announce(bigDpAnnounce(peerId(), 1000))
    expect(thousand.packages).toHaveLength(1000)
    const most = bigDpAnnounce(peerId(), MAX_ANNOUNCE_PACKAGES)
    expect(Buffer.byteLength(JSON.stringify(most))).toBeLessThan(MAX_ANNOUNCE_BODY_BYTES)
    const answer = await dp().announce(most)
    expect(answer.packages).toHaveLength(MAX_ANNOUNCE_PACKAGES)
  })

  it('refuses one package more with BAD_REQUEST naming the cap', async () => {
    await expect(dp().announce(bigDpAnnounce(peerId(), MAX_ANNOUNCE_PACKAGES + 1))).rejects.toMatchObject({
      code: 'PEERSTAGE_TRACKER_BAD_REQUEST',
      message: expect.stringMatching(new RegExp(`packages.*${MAX_ANNOUNCE_PACKAGES}`)),
    })
  })
})
