// Printing a periodic report: on a terminal, redrawn in place and fitted to its width; elsewhere,
// plain lines. Every reporting command uses it (consumer, collector, sim).

/**
 * One report line cut at spaces so that no piece is wider than `width` columns (a terminal that
 * wraps a line by itself breaks the cursor arithmetic of the live view). Pieces after the first are
 * indented two more than the line; a word wider than the width is cut where it must be.
 */
export function wrapToWidth(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const indent = ' '.repeat(Math.min(line.length - line.trimStart().length + 2, Math.max(0, width - 10)));
  const out: string[] = [];
  let cur = '';
  for (const word of line.trim().split(/ +/)) {
    const prefix = out.length === 0 && cur === '' ? line.slice(0, line.length - line.trimStart().length) : '';
    const candidate = cur === '' ? (out.length ? indent : prefix) + word : `${cur} ${word}`;
    if (candidate.length <= width) {
      cur = candidate;
      continue;
    }
    if (cur !== '' && cur.trim() !== '') out.push(cur);
    let rest = (out.length ? indent : prefix) + word;
    while (rest.length > width) {
      out.push(rest.slice(0, width));
      rest = indent + rest.slice(width);
    }
    cur = rest;
  }
  if (cur.trim() !== '') out.push(cur);
  return out;
}

/**
 * On a terminal, redraw the report in place, fitted to the terminal's width; a report taller than
 * the terminal cannot be redrawn (its top has scrolled away), so it is printed as plain lines.
 * Elsewhere (a pipe, a file) reports are always plain lines.
 */
export class ReportWriter {
  #lines = 0;
  readonly #live: boolean;
  constructor(
    private readonly out: NodeJS.WriteStream,
    live = out.isTTY === true,
  ) {
    this.#live = live;
  }
  write(text: string): void {
    if (!this.#live) {
      this.out.write(text + '\n');
      return;
    }
    // One column spare: some terminals wrap when the last column is written.
    const width = Math.max(20, (this.out.columns || 80) - 1);
    const rows = this.out.rows || 24;
    const lines = text.split('\n').flatMap((l) => wrapToWidth(l, width));
    if (this.#lines > 0) this.out.write(`\x1b[${this.#lines}A\x1b[J`);
    this.out.write(lines.join('\n') + '\n');
    this.#lines = lines.length < rows ? lines.length : 0;
  }
  /** The next write starts below what is on the screen. */
  release(): void {
    this.#lines = 0;
  }
}
