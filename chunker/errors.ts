import { defineErrorCodes, PeerstageError } from '../common/index.ts'

/**
 * Stable codes of the chunker module and their classes (common/errors.ts); README lists them
 * all and a test keeps it so. Up to 0.1.0 they were `PEERSTAGE_MANIFEST_*`, `PEERSTAGE_KEY_*`,
 * `PEERSTAGE_PACK_*` and `PEERSTAGE_VERIFY_*`, outside the `PEERSTAGE_<MODULE>_` rule: those
 * old codes still match (isPeerstageError, `aliases` in --json) for one more release.
 */
export const ChunkerErrorCodes = defineErrorCodes('chunker', {
  /** The manifest file cannot be read (missing, permissions). */
  MANIFEST_UNREADABLE: { code: 'PEERSTAGE_CHUNKER_MANIFEST_UNREADABLE', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_UNREADABLE'] },
  /** The manifest ends mid-way: an interrupted copy or download. */
  MANIFEST_TRUNCATED: { code: 'PEERSTAGE_CHUNKER_MANIFEST_TRUNCATED', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_TRUNCATED'] },
  /** The manifest is not JSON at all. */
  MANIFEST_NOT_JSON: { code: 'PEERSTAGE_CHUNKER_MANIFEST_NOT_JSON', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_NOT_JSON'] },
  /** `format` is missing or a version this build does not know. */
  MANIFEST_FORMAT: { code: 'PEERSTAGE_CHUNKER_MANIFEST_FORMAT', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_FORMAT'] },
  /** A field is missing, unknown, or of the wrong type or range. */
  MANIFEST_SCHEMA: { code: 'PEERSTAGE_CHUNKER_MANIFEST_SCHEMA', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_SCHEMA'] },
  /** A package name or version that cannot be a directory name. */
  MANIFEST_BAD_NAME: { code: 'PEERSTAGE_CHUNKER_MANIFEST_BAD_NAME', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_BAD_NAME'] },
  /** A file path that is absolute, has `..`, a drive letter, a backslash or a NUL. */
  MANIFEST_BAD_PATH: { code: 'PEERSTAGE_CHUNKER_MANIFEST_BAD_PATH', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_BAD_PATH'] },
  /** Two files with the same path, or a file that is also another file's directory. */
  MANIFEST_DUPLICATE_PATH: { code: 'PEERSTAGE_CHUNKER_MANIFEST_DUPLICATE_PATH', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_DUPLICATE_PATH'] },
  /** Chunk, file and piece sizes and ranges do not add up. */
  MANIFEST_SIZE_MISMATCH: { code: 'PEERSTAGE_CHUNKER_MANIFEST_SIZE_MISMATCH', class: 'usage', aliases: ['PEERSTAGE_MANIFEST_SIZE_MISMATCH'] },
  /** The signature does not match the manifest and its publisher key. */
  MANIFEST_BAD_SIGNATURE: { code: 'PEERSTAGE_CHUNKER_MANIFEST_BAD_SIGNATURE', class: 'refused', aliases: ['PEERSTAGE_MANIFEST_BAD_SIGNATURE'] },
  /** Signed by a publisher that is not among the trusted keys. */
  MANIFEST_UNTRUSTED: { code: 'PEERSTAGE_CHUNKER_MANIFEST_UNTRUSTED', class: 'refused', aliases: ['PEERSTAGE_MANIFEST_UNTRUSTED'] },
  /** A key file that cannot be read or is not an Ed25519 key of the right kind. */
  KEY_INVALID: { code: 'PEERSTAGE_CHUNKER_KEY_INVALID', class: 'usage', aliases: ['PEERSTAGE_KEY_INVALID'] },
  /** keygen would overwrite an existing key. */
  KEY_EXISTS: { code: 'PEERSTAGE_CHUNKER_KEY_EXISTS', class: 'usage', aliases: ['PEERSTAGE_KEY_EXISTS'] },
  /** The pack source does not exist or cannot be read. */
  PACK_SOURCE_UNREADABLE: { code: 'PEERSTAGE_CHUNKER_PACK_SOURCE_UNREADABLE', class: 'usage', aliases: ['PEERSTAGE_PACK_SOURCE_UNREADABLE'] },
  /** The source holds something that cannot go in a package (symlink, device, bad name). */
  PACK_UNSUPPORTED_FILE: { code: 'PEERSTAGE_CHUNKER_PACK_UNSUPPORTED_FILE', class: 'usage', aliases: ['PEERSTAGE_PACK_UNSUPPORTED_FILE'] },
  /** A source path that Windows cannot write (reserved name, forbidden character, case clash, too long). */
  WINDOWS_UNSAFE_PATH: { code: 'PEERSTAGE_CHUNKER_WINDOWS_UNSAFE_PATH', class: 'usage' },
  /** A source file changed size or vanished while it was being packed. */
  PACK_SOURCE_CHANGED: { code: 'PEERSTAGE_CHUNKER_PACK_SOURCE_CHANGED', class: 'failed', aliases: ['PEERSTAGE_PACK_SOURCE_CHANGED'] },
  /** The manifest could not be written where asked (permissions, missing directory, full disk). */
  PACK_OUTPUT_UNWRITABLE: { code: 'PEERSTAGE_CHUNKER_PACK_OUTPUT_UNWRITABLE', class: 'failed', aliases: ['PEERSTAGE_PACK_OUTPUT_UNWRITABLE'] },
  /** The verify directory does not exist or is not a directory. */
  VERIFY_DIR_UNREADABLE: { code: 'PEERSTAGE_CHUNKER_VERIFY_DIR_UNREADABLE', class: 'usage', aliases: ['PEERSTAGE_VERIFY_DIR_UNREADABLE'] },
})

export type ChunkerErrorCode = typeof ChunkerErrorCodes[keyof typeof ChunkerErrorCodes]

export function chunkerError(code: ChunkerErrorCode, message: string,
  options: { cause?: unknown, details?: Record<string, unknown> } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
