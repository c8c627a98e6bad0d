/**
 * This build's version, from package.json (the bundle inlines it), sent with every announce
 * so the tracker can show a mixed-version estate node by node.
 */
import packageJson from '../package.json' with { type: 'json' }

export const PEERSTAGE_VERSION: string = packageJson.version

/** `peerstage 0.1.0 (node v24.11.0)`: what `peerstage --version` prints. */
export function versionLine(): string {
  return `peerstage ${PEERSTAGE_VERSION} (node ${process.version})`
}
