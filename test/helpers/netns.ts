/**
 * The emulated WAN of the benches (bench/netns.ts: a DC namespace, a router, branch
 * namespaces whose downlinks are HTB classes that count their bytes) and their process
 * launcher, for tests that must count a subnet's WAN bytes in the kernel. Namespaces are
 * named `ps-PID-…` (unique per test process) and removed, with what runs in them, by
 * `destroy()`, on exit, and on the next start if a crash left them.
 */
import { netnsUnavailable } from '../../bench/netns.ts'

export { countersDelta, createTopology, DC_HOST, payloadBytes, SEGMENT_OVERHEAD_BYTES, type Counters, type Topology } from '../../bench/netns.ts'
export { startProcess, type PeerProcess } from '../../bench/processes.ts'

/** Why a netns test cannot run here, said on the console (never a silent pass); undefined when it can. */
export function netnsSkipReason(test: string): string | undefined {
  const why = netnsUnavailable()
  if (why !== undefined) console.log(`skipping ${test}: it ${why} (run as root with iproute2: apt-get install -y iproute2)`)
  return why
}
