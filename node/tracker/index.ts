/**
 * node/tracker: a node's side of the tracker. The Announcer (the announce loop, dialling
 * the peers handed out, the DP's budget long-poll), the WanLimits it feeds (leases, subnet
 * budgets, link rates: what the node asks per peer) and the ByteCounter (bytes by source,
 * for the reports) and the TrackerClock (the tracker's time, read from its answers). Built together by the node's composition root (../service.ts).
 */
export { Announcer, type AnnouncerInit, type AnnounceReports } from './announcer.ts'
export { WanLimits, type WanLimitsInit, type PeerLimits } from './wan-limits.ts'
export { ByteCounter } from './byte-counter.ts'
export { TrackerClock } from './tracker-clock.ts'
