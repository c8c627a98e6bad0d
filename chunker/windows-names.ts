/**
 * What a package path must avoid to be written on Windows: the rules Win32 file APIs apply
 * to names (reserved device names, forbidden characters, trailing dots and spaces), the
 * classic MAX_PATH limit, and case-insensitive collisions. Pure functions, no I/O: `pack`
 * uses them now; a Windows client will use the same ones on what it receives.
 */

/** Windows' classic path limit, in UTF-16 code units (what `string.length` counts). */
export const WINDOWS_MAX_PATH = 260

/** Device names Windows opens instead of a file, with or without an extension, any case. */
const RESERVED_NAME = /^(CON|PRN|AUX|NUL|COM[1-9]|LPT[1-9])(\..*)?$/i
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHAR = /[<>:"|?*\u0000-\u001f\\]/

/** Why one path segment (a file or directory name) cannot exist on Windows; undefined when it can. */
export function windowsNameProblem(name: string): string | undefined {
  const bad = FORBIDDEN_CHAR.exec(name)
  if (bad !== null) {
    const ch = bad[0].charCodeAt(0) < 0x20 ? `control character U+${bad[0].charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}` : `'${bad[0]}'`
    return `name ${JSON.stringify(name)} holds ${ch}, which Windows forbids in names (< > : " | ? * \\ and control characters)`
  }
  if (RESERVED_NAME.test(name)) return `name ${JSON.stringify(name)} is a reserved device name on Windows (CON, PRN, AUX, NUL, COM1-9, LPT1-9, with any extension)`
  if (name.endsWith('.') || name.endsWith(' ')) return `name ${JSON.stringify(name)} ends in a ${name.endsWith('.') ? 'dot' : 'space'}, which Windows strips`
  return undefined
}

export interface WindowsPathOptions {
  /** The package declares it needs long paths (manifest `longPaths: true`): no MAX_PATH check. */
  longPaths?: boolean
}

/** Why one package path (relative, `/`-separated) cannot be written on Windows; undefined when it can. */
export function windowsPathProblem(path: string, options: WindowsPathOptions = {}): string | undefined {
  for (const segment of path.split('/')) {
    const problem = windowsNameProblem(segment)
    if (problem !== undefined) return problem
  }
  if (options.longPaths !== true && path.length > WINDOWS_MAX_PATH) {
    return `is ${path.length} characters, over Windows' ${WINDOWS_MAX_PATH} (pack with --long-paths if its targets allow long paths)`
  }
  return undefined
}

/** How Windows compares names: case-insensitively. */
function folded(path: string): string {
  return path.toUpperCase()
}

/**
 * Two paths (files, or the directories above them) that are different here but the same
 * file on Windows, e.g. `Readme.txt` and `README.txt`, or `Bin/a` and `bin/b`. The first
 * pair found, or undefined.
 */
export function windowsCollision(paths: Iterable<string>): [string, string] | undefined {
  const seen = new Map<string, string>()
  const check = (p: string): [string, string] | undefined => {
    const key = folded(p)
    const earlier = seen.get(key)
    if (earlier === undefined) seen.set(key, p)
    else if (earlier !== p) return [earlier, p]
    return undefined
  }
  for (const path of paths) {
    for (let cut = path.indexOf('/'); cut !== -1; cut = path.indexOf('/', cut + 1)) {
      const clash = check(path.slice(0, cut))
      if (clash !== undefined) return clash
    }
    const clash = check(path)
    if (clash !== undefined) return clash
  }
  return undefined
}

/** The first path of a package that breaks a Windows rule, with the rule; undefined when all are fine. */
export function findWindowsProblem(paths: readonly string[], options: WindowsPathOptions = {}): { path: string, rule: string } | undefined {
  for (const path of paths) {
    const rule = windowsPathProblem(path, options)
    if (rule !== undefined) return { path, rule }
  }
  const clash = windowsCollision(paths)
  if (clash !== undefined) return { path: clash[1], rule: `differs from ${JSON.stringify(clash[0])} only in case, and Windows would write both to one file` }
  return undefined
}
