/** This build's version, as `package.json` says (test/common/store-format.test.ts keeps the two equal). */
export const PEERSTAGE_VERSION = '0.1.0'
