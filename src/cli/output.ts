/** Output helpers: results on stdout, progress and messages on stderr, progress only on a TTY. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function say(line: string): void {
  process.stderr.write(`${line}\n`);
}

export class Progress {
  private readonly tty = Boolean(process.stderr.isTTY);
  private last = '';
  update(line: string): void {
    if (!this.tty) return;
    this.last = line;
    process.stderr.write(`\r\x1b[2K${line}`);
  }
  done(): void {
    if (this.tty && this.last) process.stderr.write('\r\x1b[2K');
    this.last = '';
  }
}

/** A plain text table with aligned columns. */
export function formatTable(columns: string[], rows: Record<string, unknown>[]): string {
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(columns.map((c) => cell(r[c]))))].join('\n');
}

export function formatCount(n: number): string {
  return n.toLocaleString('en-US');
}
