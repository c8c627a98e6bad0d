import { readFileSync } from 'node:fs'

/**
 * stderr on a terminal is shared by log lines, one-line messages and at most one progress
 * bar. The bar lives on the last line, redrawn in place with `\r`; anything else written
 * through `writeLine` clears that line first and draws the bar again below itself, so a
 * log line never lands in the middle of a bar and the bar never overwrites a log line.
 */

interface StatusLine {
  stream: NodeJS.WritableStream
  /** The bar as last drawn, or '' when it has not been drawn (or is hidden). */
  text: string
}

let status: StatusLine | undefined

/** Clear the rest of the line: what `\r` leaves of a longer earlier line goes. */
const CLEAR_LINE = '\r\x1b[K'

/** Writes one line on `stream` (stderr by default), above the progress bar if one is shown there. */
export function writeLine(line: string, stream: NodeJS.WritableStream = process.stderr): void {
  if (status !== undefined && status.stream === stream && status.text !== '') stream.write(`${CLEAR_LINE}${line}\n${status.text}`)
  else stream.write(`${line}\n`)
}

/** The bar now on `stream`: drawn at once in place of the last one; `writeLine` redraws it below each line. */
export function showStatusLine(stream: NodeJS.WritableStream, text: string): void {
  status = { stream, text }
  stream.write(`${CLEAR_LINE}${text}`)
}

/** Ends the bar: its last state stays on screen as an ordinary line (`keep`), or is wiped. */
export function endStatusLine(stream: NodeJS.WritableStream, keep: boolean): void {
  if (status?.stream !== stream) return
  if (status.text !== '') stream.write(keep ? '\n' : CLEAR_LINE)
  status = undefined
}

/**
 * False when this process runs in the background of its terminal (`cmd &` in an interactive
 * shell): its bar would be drawn over whatever the foreground prints, and several background
 * bars over each other. Linux tells it by /proc (the process group against the terminal's
 * foreground group); elsewhere, or without a controlling terminal, the answer is true.
 */
export function inForegroundOfTerminal(): boolean {
  let stat: string
  try {
    stat = readFileSync('/proc/self/stat', 'utf8')
  } catch {
    return true
  }
  // pid (comm) state ppid pgrp session tty_nr tpgid …: comm may hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const pgrp = Number(fields[2])
  const tpgid = Number(fields[5])
  return !(tpgid > 0) || tpgid === pgrp
}
