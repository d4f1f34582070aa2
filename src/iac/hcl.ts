// HCL, formatted as `terraform fmt` formats it: the blocks and values the iac modules build their files from.

export type Value = { hcl: string };
export type Attrs = { kind: 'attrs'; items: [string, Value][] };
export interface Block {
  kind: 'block';
  type: string;
  labels: string[];
  body: (Attrs | Block)[];
}

export const str = (s: string): Value => ({ hcl: JSON.stringify(s).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{') });
export const raw = (hcl: string): Value => ({ hcl });
export const attrs = (items: [string, Value][]): Attrs => ({ kind: 'attrs', items });
export const block = (type: string, labels: string[], body: (Attrs | Block)[]): Block => ({ kind: 'block', type, labels, body });

/** A variable with its description; `value` is its default: a string, a number, or HCL as written (`raw('[]')`). */
export function variable(name: string, description: string, value: string | number | Value | undefined, type = 'string'): Block {
  const items: [string, Value][] = [
    ['description', str(description)],
    ['type', raw(type)],
  ];
  if (value !== undefined)
    items.push(['default', typeof value === 'number' ? raw(String(value)) : typeof value === 'string' ? str(value) : value]);
  return block('variable', [name], [attrs(items)]);
}

/** Labels as Google Cloud takes them: lower case letters, digits, `_` and `-`, at most 63 characters. */
export function labels(values: Record<string, string | undefined>, key = 'labels'): Attrs {
  const entries = Object.entries(values)
    .filter((e): e is [string, string] => e[1] !== undefined && e[1] !== '')
    .map(
      ([k, v]) =>
        [
          k,
          v
            .toLowerCase()
            .replace(/[^a-z0-9_-]/g, '_')
            .slice(0, 63),
        ] as const,
    );
  return attrs([[key, map(Object.fromEntries(entries.map(([k, v]) => [k, str(v)])))]]);
}

/** A map value `{ k = v }`, one entry a line with `=` aligned (keys as written: bare identifiers). */
export function map(values: Record<string, Value>): Value {
  const entries = Object.entries(values);
  if (entries.length === 0) return raw('{}');
  const width = Math.max(...entries.map(([k]) => k.length));
  const lines = entries.map(([k, v]) => `    ${k.padEnd(width)} = ${v.hcl}`);
  return raw(`{\n${lines.join('\n')}\n  }`);
}

export function tfName(s: string): string {
  return s.replace(/[^A-Za-z0-9_]/g, '_');
}

export function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

export function render(blocks: Block[]): string {
  return `${blocks.map((b) => renderBlock(b, 0)).join('\n')}`;
}

function renderBlock(b: Block, depth: number): string {
  const pad = '  '.repeat(depth);
  const head = [b.type, ...b.labels.map((l) => JSON.stringify(l))].join(' ');
  const parts = b.body.map((x) => (x.kind === 'attrs' ? renderAttrs(x, depth + 1) : renderBlock(x, depth + 1)));
  return `${pad}${head} {\n${parts.join('\n')}${pad}}\n`;
}

/**
 * Attributes one per line, their `=` aligned as terraform fmt aligns them: across consecutive single-line attributes;
 * an attribute whose value spans lines ends the run.
 */
function renderAttrs(a: Attrs, depth: number): string {
  const pad = '  '.repeat(depth);
  const out: string[] = [];
  let run: [string, Value][] = [];
  const flush = () => {
    const width = Math.max(0, ...run.map(([k]) => k.length));
    for (const [k, v] of run) out.push(`${pad}${k.padEnd(width)} = ${v.hcl}`);
    run = [];
  };
  for (const [k, v] of a.items) {
    run.push([k, v]);
    if (v.hcl.includes('\n')) flush();
  }
  flush();
  return `${out.map((l) => indentContinuation(l, pad)).join('\n')}\n`;
}

/** A multi-line value's continuation lines are written for depth 1; shift them to the attribute's depth. */
function indentContinuation(line: string, pad: string): string {
  const extra = pad.slice(2);
  return line.replace(/\n/g, `\n${extra}`);
}
