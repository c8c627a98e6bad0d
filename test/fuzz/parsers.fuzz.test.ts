import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseProgramSpec, splitCommandLine } from '../../chunker/index.ts'
import { parseMultiaddr } from '../../node/host.ts'
import { NodeErrorCodes } from '../../node/errors.ts'
import { parseCidr, parseIsoTime } from '../../tracker/index.ts'
import { countOutcome, fuzz, fuzzTimeoutMs, nastyString, resultOrCode } from './fuzz.ts'

/** A TypeError (misuse by the caller: the CLI turns it into its usage error) counts as a clear refusal. */
function typeErrorOr<R>(run: () => R): R | undefined {
  try {
    const value = run()
    countOutcome('ok')
    return value
  } catch (err) {
    if (!(err instanceof TypeError) || err.message.length === 0) throw err
    countOutcome('TypeError')
    return undefined
  }
}

describe('fuzz: the small parsers (CIDR, ISO times, program command lines, multiaddrs)', () => {
  it('parseCidr: a canonical network whose text parses to itself, or undefined', async () => {
    const text = fc.oneof(fc.tuple(fc.ipV4(), fc.nat({ max: 40 })).map(([ip, n]) => `${ip}/${n}`), fc.tuple(fc.array(fc.nat({ max: 999 }), { minLength: 1, maxLength: 6 }), fc.nat({ max: 99 })).map(([p, n]) => `${p.join('.')}/${n}`), nastyString(24))
    await fuzz('tracker.parseCidr', text, (t) => {
      const c = parseCidr(t)
      countOutcome(c === undefined ? 'undefined' : 'ok')
      if (c === undefined) return
      expect(c.prefix >= 0 && c.prefix <= 32 && c.network >= 0 && c.network <= 0xffffffff).toBe(true)
      expect(parseCidr(c.text)).toEqual(c)
    }, 1000)
  }, fuzzTimeoutMs())

  it('parseIsoTime: an instant a Date can hold, or undefined', async () => {
    const text = fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), fc.tuple(fc.nat({ max: 9999 }), fc.nat({ max: 13 }), fc.nat({ max: 32 }), fc.nat({ max: 25 }), fc.nat({ max: 61 }), fc.constantFrom('Z', '+00:00', '-23:59', '+9999', '+24:00', '')).map(([y, mo, d, h, mi, z]) => `${String(y).padStart(4, '0')}-${String(mo).padStart(2, '0')}-${String(d).padStart(2, '0')}T${String(h).padStart(2, '0')}:${String(mi).padStart(2, '0')}${z}`), nastyString(40))
    await fuzz('tracker.parseIsoTime', text, (t) => {
      const ms = parseIsoTime(t)
      countOutcome(ms === undefined ? 'undefined' : 'ok')
      if (ms !== undefined) expect(new Date(ms).toISOString()).toMatch(/^[-+\d]/)
    }, 1000)
  }, fuzzTimeoutMs())

  it('splitCommandLine and parseProgramSpec: words that quote back to themselves, or a TypeError', async () => {
    const quote = (w: string): string => `'${w.replace(/'/g, "'\\''")}'`
    await fuzz('chunker.programs', fc.oneof(fc.array(fc.string({ maxLength: 12 }), { maxLength: 6 }), nastyString(60)), (input) => {
      if (Array.isArray(input)) {
        // Words quoted as a shell would: splitting gives them back exactly.
        expect(splitCommandLine(input.map(quote).join(' '))).toEqual(input)
        countOutcome('ok')
        return
      }
      const words = typeErrorOr(() => splitCommandLine(input))
      if (words !== undefined) for (const w of words) expect(typeof w).toBe('string')
      const program = typeErrorOr(() => parseProgramSpec(input))
      if (program !== undefined) expect(program.command.length + program.args.length).toBeGreaterThan(0)
    }, 400)
  }, fuzzTimeoutMs())

  it('parseMultiaddr: an address, or PEERSTAGE_NODE_BAD_ADDRESS', async () => {
    const text = fc.oneof(fc.tuple(fc.constantFrom('/ip4/', '/ip6/', '/dns4/', '/tcp/', '/p2p/', '/unix/', '/'), nastyString(20), fc.constantFrom('', '/tcp/4001', '/tcp/99999', '/p2p/12D3KooW', '/udp/1/quic-v1')).map((p) => p.join('')), nastyString(40))
    await fuzz('node.parseMultiaddr', text, async (t) => {
      const r = await resultOrCode([NodeErrorCodes.BAD_ADDRESS], () => parseMultiaddr(t, 'peer address'))
      if (r.ok) expect(r.value.toString().startsWith('/')).toBe(true)
    }, 500)
  }, fuzzTimeoutMs())
})
