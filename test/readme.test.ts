import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BandwidthErrorCodes } from '../bandwidth/index.ts'
import { ChunkerErrorCodes } from '../chunker/index.ts'
import { USAGE } from '../bin/cli.ts'
import { COMMANDS } from '../bin/commands.ts'
import { NodeErrorCodes, StoreErrorCodes } from '../node/index.ts'
import { TrackerErrorCodes } from '../tracker/index.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

describe('README', () => {
  it('lists every error code', () => {
    for (const code of [USAGE, ...Object.values(ChunkerErrorCodes), ...Object.values(BandwidthErrorCodes), ...Object.values(NodeErrorCodes), ...Object.values(StoreErrorCodes), ...Object.values(TrackerErrorCodes)]) expect(readme, code).toContain(`\`${code}\``)
  })

  it('names the two set-up commands', () => {
    expect(readme).toMatch(/npm ci\nnpm test/)
  })

  it('documents every command and every option', async () => {
    for (const cmd of await Promise.all(COMMANDS.map((c) => c.load()))) {
      expect(readme).toContain(`\`${cmd.name} `)
      for (const option of Object.keys(cmd.options)) expect(readme, `${cmd.name} --${option}`).toContain(`--${option}`)
    }
  })
})
