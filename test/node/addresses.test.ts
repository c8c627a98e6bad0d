import { describe, expect, it } from 'vitest'
import { NodeErrorCodes } from '../../node/errors.ts'
import { parseMultiaddr } from '../../node/host.ts'

describe('parseMultiaddr', () => {
  it('takes a multiaddr and refuses what is not one with PEERSTAGE_NODE_BAD_ADDRESS', () => {
    expect(parseMultiaddr('/ip4/127.0.1.1/tcp/4001', 'peer address').toString()).toBe('/ip4/127.0.1.1/tcp/4001')
    expect(() => parseMultiaddr('127.0.1.1:4001', 'peer address')).toThrow(expect.objectContaining({ code: NodeErrorCodes.BAD_ADDRESS, message: expect.stringMatching(/^peer address '127.0.1.1:4001' is not a multiaddr/) }))
  })

  it('refuses an address that parses but cannot be printed (a lone surrogate in a /unix/ path), not a URIError later (found by the fuzzer)', () => {
    expect(() => parseMultiaddr('/unix/\ud800', 'peer address')).toThrow(expect.objectContaining({ code: NodeErrorCodes.BAD_ADDRESS }))
  })
})
