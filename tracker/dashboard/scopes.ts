import type { Budgets } from '../budgets.ts'
import { parseCidr, TrackerErrorCodes, trackerError } from '../protocol/index.ts'
import { layoutWeek, today, type TimelineScope, type WeekTimeline } from './timeline.ts'

export interface TimelineQuery {
  site?: string
  subnet?: string
  /** A site with a parent: the link from it. */
  link?: string
  /** Any date of the week wanted; the current week on the scope's clock when absent. */
  week?: string
}

/** `now`: the tracker's clock, so the page marks the present by it, not by the browser's. */
export type ScopeTimeline = WeekTimeline & { scope: { kind: 'site' | 'subnet' | 'link', name: string, parent?: string }, now: string }

/**
 * The week of a subnet (its override, site and global rules, decided by the Budgets the
 * tracker runs on), of a site (its rules over the global ones: what its subnets without an
 * override get), or of an inter-site link, in that scope's time zone.
 */
export function scopeTimeline(budgets: Budgets, q: TimelineQuery, now: Date): ScopeTimeline {
  const given = [q.site, q.subnet, q.link].filter((v) => v !== undefined).length
  if (given !== 1) throw trackerError(TrackerErrorCodes.BAD_REQUEST, 'give exactly one of site, subnet or link')
  if (q.week !== undefined && (!/^\d{4}-\d{2}-\d{2}$/.test(q.week) || Number.isNaN(Date.parse(q.week)))) {
    throw trackerError(TrackerErrorCodes.BAD_REQUEST, `week '${q.week}' is not a date like 2026-03-23`)
  }
  const global: TimelineScope = { by: 'global', schedule: budgets.config.wan.schedule }
  const week = (tz: string): string => q.week ?? today(now, tz)

  if (q.subnet !== undefined) {
    const cidr = parseCidr(q.subnet)?.text
    if (cidr === undefined) throw trackerError(TrackerErrorCodes.BAD_REQUEST, `subnet '${q.subnet}' is not an IPv4 CIDR like 10.1.2.0/24`)
    budgets.checkScope(`subnet:${cidr}`)
    const own = budgets.policyOf(`subnet:${cidr}`).schedule
    const site = budgets.policyOf(`site:${budgets.siteOf(cidr)}`).schedule
    const scopes: TimelineScope[] = [{ by: 'subnet', schedule: own }, { by: 'site', schedule: site }, global]
    return { scope: { kind: 'subnet', name: cidr }, now: now.toISOString(), ...layoutWeek(scopes, own.timeZone, week(own.timeZone), (at) => budgets.budgetOf(cidr, at)) }
  }
  if (q.site !== undefined) {
    budgets.checkScope(`site:${q.site}`)
    const own = budgets.policyOf(`site:${q.site}`).schedule
    return { scope: { kind: 'site', name: q.site }, now: now.toISOString(), ...layoutWeek([{ by: 'site', schedule: own }, global], own.timeZone, week(own.timeZone)) }
  }
  const site = budgets.config.sites.find((s) => s.name === q.link)
  if (site?.parent === undefined) {
    const linked = budgets.linkedSites
    throw trackerError(TrackerErrorCodes.NOT_FOUND, `no link to site '${q.link}': only sites with a parent have one (${linked.join(', ') || 'none'})`)
  }
  const schedule = site.link ?? { timeZone: site.timeZone, defaultRate: undefined, windows: [] }
  return { scope: { kind: 'link', name: site.name, parent: site.parent }, now: now.toISOString(), ...layoutWeek([{ by: 'link', schedule }], schedule.timeZone, week(schedule.timeZone)) }
}
