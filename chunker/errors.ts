import { PeerstageError } from '../common/index.ts'

/** Stable codes of the chunker module; README lists them all and a test keeps it so. */
export const ChunkerErrorCodes = {
  /** The manifest file cannot be read (missing, permissions). */
  MANIFEST_UNREADABLE: 'PEERSTAGE_MANIFEST_UNREADABLE',
  /** The manifest ends mid-way: an interrupted copy or download. */
  MANIFEST_TRUNCATED: 'PEERSTAGE_MANIFEST_TRUNCATED',
  /** The manifest is not JSON at all. */
  MANIFEST_NOT_JSON: 'PEERSTAGE_MANIFEST_NOT_JSON',
  /** `format` is missing or a version this build does not know. */
  MANIFEST_FORMAT: 'PEERSTAGE_MANIFEST_FORMAT',
  /** A field is missing, unknown, or of the wrong type or range. */
  MANIFEST_SCHEMA: 'PEERSTAGE_MANIFEST_SCHEMA',
  /** A package name or version that cannot be a directory name. */
  MANIFEST_BAD_NAME: 'PEERSTAGE_MANIFEST_BAD_NAME',
  /** A file path that is absolute, has `..`, a drive letter, a backslash or a NUL. */
  MANIFEST_BAD_PATH: 'PEERSTAGE_MANIFEST_BAD_PATH',
  /** Two files with the same path, or a file that is also another file's directory. */
  MANIFEST_DUPLICATE_PATH: 'PEERSTAGE_MANIFEST_DUPLICATE_PATH',
  /** Chunk, file and piece sizes and ranges do not add up. */
  MANIFEST_SIZE_MISMATCH: 'PEERSTAGE_MANIFEST_SIZE_MISMATCH',
  /** The signature does not match the manifest and its publisher key. */
  MANIFEST_BAD_SIGNATURE: 'PEERSTAGE_MANIFEST_BAD_SIGNATURE',
  /** Signed by a publisher that is not among the trusted keys. */
  MANIFEST_UNTRUSTED: 'PEERSTAGE_MANIFEST_UNTRUSTED',
  /** A key file that cannot be read or is not an Ed25519 key of the right kind. */
  KEY_INVALID: 'PEERSTAGE_KEY_INVALID',
  /** keygen would overwrite an existing key. */
  KEY_EXISTS: 'PEERSTAGE_KEY_EXISTS',
  /** The pack source does not exist or cannot be read. */
  PACK_SOURCE_UNREADABLE: 'PEERSTAGE_PACK_SOURCE_UNREADABLE',
  /** The source holds something that cannot go in a package (symlink, device, bad name). */
  PACK_UNSUPPORTED_FILE: 'PEERSTAGE_PACK_UNSUPPORTED_FILE',
  /** A source file changed size or vanished while it was being packed. */
  PACK_SOURCE_CHANGED: 'PEERSTAGE_PACK_SOURCE_CHANGED',
  /** The manifest could not be written where asked (permissions, missing directory, full disk). */
  PACK_OUTPUT_UNWRITABLE: 'PEERSTAGE_PACK_OUTPUT_UNWRITABLE',
  /** The verify directory does not exist or is not a directory. */
  VERIFY_DIR_UNREADABLE: 'PEERSTAGE_VERIFY_DIR_UNREADABLE',
} as const

export type ChunkerErrorCode = typeof ChunkerErrorCodes[keyof typeof ChunkerErrorCodes]

export function chunkerError(code: ChunkerErrorCode, message: string,
  options: { cause?: unknown, details?: Record<string, unknown> } = {}): PeerstageError {
  return new PeerstageError(code, message, options)
}
