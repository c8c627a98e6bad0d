import type { SiteConfig } from './config.ts'
import type { CataloguePackage, ReplicaOffer } from './protocol/index.ts'

/** `NAME@VERSION` glob → test: `*` any run of characters, `?` one, everything else itself. */
export function globMatcher(globs: readonly string[]): (nameAtVersion: string) => boolean {
  const patterns = globs.map((g) => new RegExp(`^${g.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[\\^$.|+()[\]{}]/g, '\\$&'))).join('')}$`, 's'))
  return (text) => patterns.some((p) => p.test(text))
}

/** Sites as the config links them: each one's parent, children and ancestors. */
export class SiteTree {
  private readonly parents = new Map<string, string | undefined>()
  private readonly children = new Map<string, string[]>()
  private readonly ancestors = new Map<string, string[]>()

  constructor(sites: readonly SiteConfig[]) {
    for (const s of sites) {
      this.parents.set(s.name, s.parent)
      this.children.set(s.name, [])
    }
    for (const s of sites) if (s.parent !== undefined) this.children.get(s.parent)!.push(s.name)
    // The config refuses cycles, so every chain ends.
    for (const s of sites) {
      const chain: string[] = []
      for (let p = s.parent; p !== undefined; p = this.parents.get(p)) chain.push(p)
      this.ancestors.set(s.name, chain)
    }
  }

  parentOf(site: string | undefined): string | undefined {
    return site === undefined ? undefined : this.parents.get(site)
  }

  childrenOf(site: string): readonly string[] {
    return this.children.get(site) ?? []
  }

  /** Parent first, then grandparent, up to the root; [] for a root or unknown site. */
  ancestorsOf(site: string | undefined): readonly string[] {
    return site === undefined ? [] : this.ancestors.get(site) ?? []
  }
}

/**
 * What each site's DPs must hold: the catalogue packages its `replicate` globs match, plus
 * what every site below it must hold, since replication never skips a level (a DP relays
 * for the sites under it). Built once per catalogue change, read at every DP announce.
 */
export class ReplicaPlan {
  private readonly offers = new Map<string, ReplicaOffer[]>()
  private readonly required = new Map<string, Set<string>>()

  constructor(sites: readonly SiteConfig[], catalogue: readonly CataloguePackage[], tree = new SiteTree(sites)) {
    const own = new Map(sites.map((s) => {
      const matches = globMatcher(s.replicate)
      return [s.name, catalogue.filter((p) => matches(`${p.name}@${p.version}`)).map((p) => p.id)]
    }))
    const visit = (site: string): Set<string> => {
      let ids = this.required.get(site)
      if (ids !== undefined) return ids
      ids = new Set(own.get(site))
      for (const child of tree.childrenOf(site)) for (const id of visit(child)) ids.add(id)
      this.required.set(site, ids)
      return ids
    }
    for (const s of sites) {
      const ids = visit(s.name)
      // In catalogue order, whichever site asked for it.
      this.offers.set(s.name, catalogue.filter((p) => ids.has(p.id)).map(({ id, name, version }) => ({ id, name, version })))
    }
  }

  /** The packages a DP of the site must hold; none for a DP in no configured site. */
  offersFor(site: string | undefined): ReplicaOffer[] {
    return site === undefined ? [] : this.offers.get(site) ?? []
  }

  requires(site: string, packageId: string): boolean {
    return this.required.get(site)?.has(packageId) ?? false
  }
}
