import type { Program } from './manifest.ts'

/**
 * `NAME=COMMAND LINE` → a program. The command line is split like a POSIX shell would split
 * words (single and double quotes, backslash escapes), without expanding anything, so the
 * manifest says exactly what will run.
 */
export function parseProgramSpec(spec: string): Program {
  const eq = spec.indexOf('=')
  if (eq <= 0) throw new TypeError(`program ${JSON.stringify(spec)} must look like NAME=COMMAND`)
  const name = spec.slice(0, eq).trim()
  const words = splitCommandLine(spec.slice(eq + 1))
  if (words.length === 0) throw new TypeError(`program ${JSON.stringify(name)} has an empty command`)
  return { name, command: words[0], args: words.slice(1) }
}

export function splitCommandLine(line: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  let quote: '"' | "'" | undefined
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]
    if (quote === "'") {
      if (ch === "'") quote = undefined
      else word += ch
    } else if (quote === '"') {
      if (ch === '"') quote = undefined
      else if (ch === '\\' && (line[i + 1] === '"' || line[i + 1] === '\\')) word += line[++i]
      else word += ch
    } else if (ch === "'" || ch === '"') {
      quote = ch
      inWord = true
    } else if (ch === '\\' && i + 1 < line.length) {
      word += line[++i]
      inWord = true
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += ch
      inWord = true
    }
  }
  if (quote !== undefined) throw new TypeError(`unterminated ${quote} quote in ${JSON.stringify(line)}`)
  if (inWord) words.push(word)
  return words
}
