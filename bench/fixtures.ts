// Data the rows share, generated once into the fixtures folder and reused (by name: the size is in it).
import { cpSync, createWriteStream, existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadProject } from '../src/config/load-project.js';
import type { Project } from '../src/config/project.js';
import { loadProject as loadCachedProject } from '../src/config/project-cache.js';
import { FintechSimulator } from '../src/demo/simulator/fintech-simulator.js';

/** Bump when a generator changes, so stale fixtures are not reused. */
const VERSION = 1;
/**
 * Bump when finmesh writes a lake (its files or its manifest) otherwise: the lake fixtures are made by finmesh itself,
 * and one made by an older version would measure that version's lake. 2: the manifest keeps each file's column sizes.
 */
export const LAKE_FORMAT = 2;
export const EXAMPLE = fileURLToPath(new URL('../examples/fintech', import.meta.url));

/** Makes `name` in `dir` with `make` unless a complete copy is there already; returns its path. */
export async function fixture(dir: string, name: string, make: (path: string) => Promise<void>): Promise<string> {
  const path = join(dir, `v${VERSION}-${name}`);
  if (existsSync(path)) return path;
  mkdirSync(dir, { recursive: true });
  const tmp = `${path}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  await make(tmp);
  renameSync(tmp, path);
  return path;
}

async function writeLines(file: string, next: () => string | undefined): Promise<void> {
  const out = createWriteStream(file);
  for (let chunk = next(); chunk !== undefined; chunk = next()) {
    if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
}

/** `n` transaction documents (the app's change events: new payments and their status updates), as NDJSON. */
export function transactionsNdjson(dir: string, n: number, log: (m: string) => void): Promise<string> {
  return fixture(dir, `transactions-${n}.ndjson`, async (path) => {
    log(`generating ${n.toLocaleString('en-US')} transaction changes as NDJSON…`);
    const sim = new FintechSimulator({
      seed: 1,
      customers: 5000,
      merchants: 500,
      transactionsPerSecond: 10_000,
      start: new Date('2026-11-27T00:00:00Z'),
    });
    let written = 0;
    await writeLines(path, () => {
      if (written >= n) return undefined;
      const lines: string[] = [];
      for (const e of sim.advance(1000)) {
        if (e.entity !== 'transactions' || written >= n) continue;
        lines.push(JSON.stringify(e.doc));
        written++;
      }
      return lines.length > 0 ? `${lines.join('\n')}\n` : '';
    });
  });
}

export const CHARGEBACK_HEADER = 'ID Disputa;Data Abertura;NSU;Estabelecimento;Nome Fantasia;Bandeira;Valor Contestado;Motivo;Parcelas';

/**
 * A partner chargeback report of `n` rows as partners send it: ISO-8859-1, `;`, decimal commas, dd/MM/yyyy dates,
 * CRLF, quoted fields with doubled quotes and delimiters inside.
 */
export function chargebacksCsv(dir: string, n: number, log: (m: string) => void): Promise<string> {
  return fixture(dir, `chargebacks-${n}.csv`, async (path) => {
    log(`generating a ${n.toLocaleString('en-US')}-row partner CSV (ISO-8859-1)…`);
    let i = 0;
    const out = createWriteStream(path);
    const write = (b: Buffer) => (out.write(b) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r())));
    await write(Buffer.from(`${CHARGEBACK_HEADER}\r\n`, 'latin1'));
    while (i < n) {
      const lines: string[] = [];
      for (const end = Math.min(n, i + 10_000); i < end; i++) {
        const day = String(1 + (i % 28)).padStart(2, '0');
        lines.push(
          `CB${String(i).padStart(10, '0')};${day}/11/2026;${200000000000 + i};mer_${String(i % 5000).padStart(6, '0')};${i % 3 ? 'Padaria Açaí' : '"Loja ""Conceição"""'};VISA;${i % 999},${String(i % 100).padStart(2, '0')};${i % 7 ? 'Mercadoria não recebida' : '"Fraude; não reconhecida"'};${1 + (i % 12)}`,
        );
      }
      await write(Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1'));
    }
    await new Promise<void>((r, j) => out.end((e?: Error | null) => (e ? j(e) : r())));
  });
}

/** The chargeback CSV's columns as a partner source declares them (header names → fields, and types). */
export const CHARGEBACK_COLUMNS = {
  case_id: 'ID Disputa',
  opened_on: 'Data Abertura',
  nsu: 'NSU',
  merchant_id: 'Estabelecimento',
  merchant_name: 'Nome Fantasia',
  brand: 'Bandeira',
  amount: 'Valor Contestado',
  reason: 'Motivo',
  installments: 'Parcelas',
};
export const CHARGEBACK_SCHEMA = [
  { name: 'case_id', type: 'VARCHAR' },
  { name: 'opened_on', type: 'DATE' },
  { name: 'nsu', type: 'VARCHAR' },
  { name: 'merchant_id', type: 'VARCHAR' },
  { name: 'merchant_name', type: 'VARCHAR' },
  { name: 'brand', type: 'VARCHAR' },
  { name: 'amount', type: 'DECIMAL(18,2)' },
  { name: 'reason', type: 'VARCHAR' },
  { name: 'installments', type: 'INTEGER' },
];

/** The example project with its lake and metadata under `dir` (and, optionally, only the sources named). */
export function benchProject(dir: string, o: { sources?: string[] } = {}): Project {
  const project = loadProject(EXAMPLE);
  project.config.lake = { ...project.config.lake, kind: 'local', path: join(dir, 'lake') };
  project.config.metadata = { kind: 'sqlite', path: join(dir, 'metadata.db') };
  if (o.sources) project.sources = project.sources.filter((s) => o.sources?.includes(s.name));
  return project;
}

/**
 * `benchProject` as a command loads it: from the validated project cache (`.finmesh/cache`, as `finmesh run` and
 * `finmesh test` do; made on first use), not by parsing and validating every YAML file again.
 */
export async function benchProjectAsCli(dir: string): Promise<Project> {
  const project = await loadCachedProject(EXAMPLE);
  project.config.lake = { ...project.config.lake, kind: 'local', path: join(dir, 'lake') };
  project.config.metadata = { kind: 'sqlite', path: join(dir, 'metadata.db') };
  return project;
}

/** A copy of the example project on disk under `dir` (for rows that drive the CLI), with a tokenisation key file. */
export function exampleCopy(dir: string): string {
  cpSync(EXAMPLE, dir, { recursive: true, filter: (src) => !src.includes('/.finmesh') });
  mkdirSync(join(dir, '.finmesh'), { recursive: true });
  writeFileSync(join(dir, '.finmesh/tokenization.key'), 'bench-tokenization-key-0123456789abcdef');
  return dir;
}
