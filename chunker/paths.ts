import { ChunkerErrorCodes, chunkerError } from './errors.ts'

/**
 * Why a manifest path is unsafe, or undefined when it is a plain relative POSIX path that
 * stays inside the package directory on every OS.
 */
export function unsafePathReason(path: string): string | undefined {
  if (path.length === 0) return 'is empty'
  if (path.includes('\0')) return 'contains a NUL byte'
  if (path.includes('\\')) return 'contains a backslash (paths use / only)'
  if (path.startsWith('/')) return 'is absolute'
  if (/^[A-Za-z]:/.test(path)) return 'starts with a drive letter'
  for (const part of path.split('/')) {
    if (part === '') return 'has an empty segment (// or a trailing /)'
    if (part === '.' || part === '..') return `has a '${part}' segment`
  }
  return undefined
}

export function assertSafePath(path: string, where: string): void {
  const reason = unsafePathReason(path)
  if (reason !== undefined) {
    throw chunkerError(ChunkerErrorCodes.MANIFEST_BAD_PATH, `${where}: path ${JSON.stringify(path)} ${reason}`, { details: { path } })
  }
}

/** Package names and versions become a directory name `NAME@VERSION`. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/

export function assertSafeName(value: string, what: 'name' | 'version'): void {
  if (!NAME_RE.test(value)) {
    throw chunkerError(ChunkerErrorCodes.MANIFEST_BAD_NAME,
      `package ${what} ${JSON.stringify(value)} must be 1-128 characters of letters, digits, '.', '_', '+' or '-', starting with a letter or digit`)
  }
}
