// Nodes: DPs and clients with their name, version and problem, site, subnet, last seen and bytes.
import { bytes, h, relative, shortId, table } from './fmt.js'

export function renderNodes(root, list) {
  root.replaceChildren(
    h('p', {}, list.total > list.nodes.length ? `${list.total} nodes; the first ${list.nodes.length} shown.` : `${list.total} nodes.`),
    table(['Role', 'Name', 'Peer', 'Version', 'Problem', 'Site', 'Subnet', 'Address', 'Last seen', 'Packages', 'Down LAN', 'Down WAN', 'Reused', 'Up'],
      list.nodes.map((n) => [n.role === 'dp' ? 'DP' : 'client', n.name ?? '', h('span', { title: n.peerId }, shortId(n.peerId)), n.version ?? '',
        n.problem === null ? '' : h('span', { title: n.problem.code }, n.problem.message), n.site ?? '(none)', n.subnet, n.ip, relative(n.lastSeenAt, Date.parse(list.time)),
        n.packages, bytes(n.bytes.lan), bytes(n.bytes.wan), bytes(n.bytes.reused), bytes(n.bytes.uploaded)])))
}
