import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BandwidthErrorCodes } from '../bandwidth/index.ts'
import { ChunkerErrorCodes } from '../chunker/index.ts'
import { errorCodes, exitCodeOf, PeerstageError } from '../common/index.ts'
import { CliErrorCodes } from '../bin/cli.ts'
import { COMMANDS } from '../bin/commands.ts'
import { NodeErrorCodes, StoreErrorCodes } from '../node/index.ts'
import { TrackerErrorCodes } from '../tracker/index.ts'

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')

describe('README', () => {
  it('lists every error code, its class and its old codes', () => {
    const declared = [...Object.values(CliErrorCodes), ...Object.values(ChunkerErrorCodes), ...Object.values(BandwidthErrorCodes), ...Object.values(NodeErrorCodes), ...Object.values(StoreErrorCodes), ...Object.values(TrackerErrorCodes)]
    expect(errorCodes().map((e) => e.code).sort()).toEqual([...declared].sort())
    const section = readme.slice(readme.indexOf('## Error codes'), readme.indexOf('\n## ', readme.indexOf('## Error codes') + 1))
    for (const { code, class: cls, aliases } of errorCodes()) {
      const row = section.split('\n').find((line) => line.startsWith(`| \`${code}\``))
      expect(row, code).toBeDefined()
      expect(row, code).toContain(`| ${cls} (${exitCodeOf(new PeerstageError(code, ''))}) |`)
      for (const alias of aliases) expect(row, `${code} was ${alias}`).toContain(`(was \`${alias}\`)`)
    }
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

  it('has every section and paragraph a command\'s help sends the reader to', async () => {
    const titles = [...readme.matchAll(/^#+ (.+)$/gm), ...readme.matchAll(/^(?:- )?\*\*([^*]+?)\.?\*\*/gm)].map((m) => m[1]!.trim())
    for (const cmd of await Promise.all(COMMANDS.map((c) => c.load()))) {
      for (const reference of cmd.help.matchAll(/README[^)]*/g)) {
        for (const [, quoted] of reference[0].matchAll(/"([^"]+)"/g)) {
          const name = quoted!.replace(/\s+/g, ' ')
          expect(titles.some((t) => t.startsWith(name)), `${cmd.name} --help names README "${name}"`).toBe(true)
        }
      }
    }
  })
})
