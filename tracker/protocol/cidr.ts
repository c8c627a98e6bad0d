/**
 * IPv4 subnets in CIDR form, the longest-prefix lookup that tells which configured subnet
 * an address belongs to, and the placement rule both sides apply: the longest configured
 * subnet holding the address, else the address's /24.
 */
export interface Cidr {
  /** Canonical text, network address first: `127.0.1.0/24`. */
  text: string
  network: number
  prefix: number
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.')
  if (parts.length !== 4) return undefined
  let n = 0
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined
    n = n * 256 + Number(p)
  }
  return n
}

function intToIpv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0
}

/** Parses `a.b.c.d/n`; undefined when it is not one. Host bits are cleared. */
export function parseCidr(text: string): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim())
  if (m === null) return undefined
  const ip = ipv4ToInt(m[1]!)
  const prefix = Number(m[2])
  if (ip === undefined || prefix > 32) return undefined
  const network = (ip & maskOf(prefix)) >>> 0
  return { text: `${intToIpv4(network)}/${prefix}`, network, prefix }
}

/** `::ffff:127.0.1.5` (IPv4 on a dual-stack socket) → `127.0.1.5`. */
export function plainIpv4(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip
}

export function cidrContains(cidr: Cidr, ip: string): boolean {
  const n = ipv4ToInt(plainIpv4(ip))
  return n !== undefined && ((n & maskOf(cidr.prefix)) >>> 0) === cidr.network
}

/** Whether two subnets share any address: one holds the other. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  const prefix = Math.min(a.prefix, b.prefix)
  return ((a.network & maskOf(prefix)) >>> 0) === ((b.network & maskOf(prefix)) >>> 0)
}

/** The /24 an address falls in: where a node outside every configured subnet is placed. */
export function slash24(ip: string): string {
  const plain = plainIpv4(ip)
  const n = ipv4ToInt(plain)
  return n === undefined ? plain : `${intToIpv4((n & maskOf(24)) >>> 0)}/24`
}

/** Longest-prefix match over a fixed set of subnets, each carrying a value. */
export class SubnetIndex<T> {
  /** prefix length → network → value, longest prefix first. */
  private readonly byPrefix: Array<[number, Map<number, T>]>

  constructor(entries: Iterable<[Cidr, T]>) {
    const map = new Map<number, Map<number, T>>()
    for (const [cidr, value] of entries) {
      let m = map.get(cidr.prefix)
      if (m === undefined) map.set(cidr.prefix, m = new Map())
      m.set(cidr.network, value)
    }
    this.byPrefix = [...map.entries()].sort((a, b) => b[0] - a[0])
  }

  lookup(ip: string): T | undefined {
    const n = ipv4ToInt(plainIpv4(ip))
    if (n === undefined) return undefined
    for (const [prefix, m] of this.byPrefix) {
      const hit = m.get((n & maskOf(prefix)) >>> 0)
      if (hit !== undefined) return hit
    }
    return undefined
  }
}

/** Where an address is placed: a configured subnet and its site, or its /24 and no site. */
export interface Placement {
  /** A configured CIDR, or the /24 of an address no configured subnet holds. */
  subnet: string
  /** undefined: the address is in no configured site. */
  site: string | undefined
}

/** The placement rule: the longest configured subnet of `index` holding `ip`, else its /24 (slash24). */
export function placeAddress(index: SubnetIndex<Placement>, ip: string): Placement {
  return index.lookup(ip) ?? { subnet: slash24(ip), site: undefined }
}
