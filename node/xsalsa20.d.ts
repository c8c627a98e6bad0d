declare module 'xsalsa20' {
  const XSalsa20: unknown
  export default XSalsa20
}
