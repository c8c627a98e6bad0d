/**
 * staging: what clients and DPs share to pre-stage a package — a trusted manifest, a
 * staging directory, verification from disk with repair, one rename into packages/, and
 * the free-space check before it all.
 */
export { checkOnDisk, linkName, materialize, ON_DISK_VERIFY_THREADS, stagingRoot, trustedManifest, verifyOnDisk } from './staging.ts'
export { freeBytes } from './disk.ts'
export { Stager, type StagerInit, type StageStart, type StageEnd } from './stager.ts'
