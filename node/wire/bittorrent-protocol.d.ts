// bittorrent-protocol ships no types; wire-types.ts describes the parts peerstage uses.
declare module 'bittorrent-protocol' {
  const Wire: unknown
  export default Wire
}
