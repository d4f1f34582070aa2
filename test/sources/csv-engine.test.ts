import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DuckDbEngine } from '../../src/engine/duckdb/duckdb-engine.js';
import { NdjsonWriter } from '../../src/lake/quarantine.js';
import { type CsvColumn, type CsvOptions, csvOptionsSchema } from '../../src/sources/formats/csv.js';
import { type EngineCsvInput, engineCanReadCsv, readCsvWithEngine } from '../../src/sources/formats/csv-engine.js';
import type { Encoding } from '../../src/sources/formats/decode.js';
import { readFileRows } from '../../src/sources/formats/read-file.js';
import { tempDir } from '../helpers.js';

const schema: CsvColumn[] = [
  { name: 'case_id', type: 'VARCHAR' },
  { name: 'opened_on', type: 'DATE' },
  { name: 'merchant_name', type: 'VARCHAR' },
  { name: 'amount', type: 'DECIMAL(18,2)', sensitive: true },
  { name: 'rate', type: 'DOUBLE' },
  { name: 'installments', type: 'INTEGER' },
  { name: 'settled_at', type: 'TIMESTAMP' },
  { name: 'disputed', type: 'BOOLEAN' },
  { name: '_source_file', type: 'VARCHAR' },
  { name: '_line', type: 'BIGINT' },
];

const brazilian: CsvOptions = csvOptionsSchema.parse({
  delimiter: ';',
  decimalSeparator: ',',
  thousandsSeparator: '.',
  dateFormat: 'dd/MM/yyyy',
  timestampFormat: 'dd/MM/yyyy HH:mm:ss',
  columns: {
    case_id: 'Caso',
    opened_on: 'Data de Abertura',
    merchant_name: 'Nome do Estabelecimento',
    amount: 'Valor (R$)',
    rate: 'Taxa',
    installments: 'Parcelas',
    settled_at: 'Liquidação',
    disputed: 'Contestado',
  },
});

const HEADER = 'Caso;Data de Abertura;Nome do Estabelecimento;Valor (R$);Taxa;Parcelas;Liquidação;Contestado;Extra';

/** Good rows, and rows each of the scanner's rules rejects, one record a line. */
const withBadRows = [
  HEADER,
  'CB-1;27/11/2026;Padaria São João;1.234,56;1,5;1;27/11/2026 13:05:09;sim;x',
  'CB-2;26/11/2026;"Mercado ""Araújo""";99,90;2e-3;3;26/11/2026 00:00:00;N;"a; b"',
  'CB-3;31/02/2026;Loja Três;10,00;0;1;01/01/2026 10:00:00;false;',
  'CB-4;25/11/2026;Loja Quatro;12,3x;0;1;01/01/2026 10:00:00;false;',
  'CB-5;25/11/2026;Loja Cinco;7,00;0;1',
  '  CB-6 ;24/11/2026; Ótica Seis ;0,50;+1;+2;24/11/2026 23:59:59;S;',
  'CB-7;24/11/2026;Loja Sete;1,00;0;1;24/11/2026 24:00:00;no;',
  'CB-8;24/11/2026;Loja Oito;;;;;;',
  'CB-9;24/11/2026;Loja Nove;2,00;0;1.000;24/11/2026 12:00:00;talvez;',
  'CB-10;24/11/2026;Loja Dez;3,00;0;1;24/11/2026 12:00:00;true;;demais',
  'CB-11;5/11/2026;Loja Onze;3,00;0;1;24/11/2026 12:00:00;true;',
  'CB-12;01/12/2026;"Loja "Doze"";3,00;0;1;24/11/2026 12:00:00;true;',
  'CB-13;02/12/2026;Loja Treze;4,00;0;2147483647;24/11/2026 12:00:00;1;',
  'CB-14;03/12/2026;"Loja Catorze";1.000.000,01;-0,5;-7;29/02/2028 08:00:00;0;',
];

/** A file's rows as bronze reads them: typed by the engine, ordered by line; and its rejects. */
async function throughScanner(engine: DuckDbEngine, dir: string, file: string, o: CsvOptions, encoding: Encoding) {
  const rows = new NdjsonWriter(join(dir, `js-${Math.random()}.ndjson`));
  const rejects: { line: number; reason: string; raw: string }[] = [];
  const read = await readFileRows(
    file,
    'partner.csv',
    { format: 'csv', csv: o, encoding, schema, limits: { maxBytes: 2 ** 30, maxRatio: 100, maxEntries: 1 } },
    dir,
    (member) => ({
      row: (line, values) => rows.add(JSON.stringify({ _source_file: member, _line: line, ...values })),
      reject: (line, reason, raw) => rejects.push({ line, reason, raw }),
    }),
  );
  rows.close();
  assert.equal(read.integrityError, undefined);
  return {
    rows: await bronze(engine, rows.count > 0 ? `SELECT * FROM ${engine.dialect.readNdjson(rows.path, schema)}` : undefined),
    rejects,
  };
}

/** The engine's read of a partner file in the Brazilian layout (UTF-8 unless `more` says otherwise). */
function readPartner(engine: DuckDbEngine, dir: string, file: string, more: Partial<EngineCsvInput> = {}) {
  return readCsvWithEngine(engine, {
    path: file,
    name: 'partner.csv',
    options: brazilian,
    encoding: 'utf-8',
    schema,
    workDir: dir,
    ...more,
  });
}

async function throughEngine(engine: DuckDbEngine, dir: string, file: string, o: CsvOptions, encoding: Encoding) {
  const read = await readCsvWithEngine(engine, { path: file, name: 'partner.csv', options: o, encoding, schema, workDir: dir });
  assert.ok(read, 'the engine reads the file');
  const extra = new NdjsonWriter(join(dir, `engine-${Math.random()}.ndjson`));
  for (const r of read.rows) extra.add(JSON.stringify({ _source_file: 'partner.csv', _line: r.line, ...r.values }));
  extra.close();
  const cols = schema.map((c) => engine.dialect.quoteIdent(c.name)).join(', ');
  const all =
    extra.count > 0
      ? `SELECT ${cols} FROM (${read.select}) UNION ALL SELECT ${cols} FROM ${engine.dialect.readNdjson(extra.path, schema)}`
      : read.select;
  return { rows: await bronze(engine, all), rejects: read.rejects.sort((a, b) => a.line - b.line), count: read.count + read.rows.length };
}

/** A seeded generator (mulberry32): a failure names its seed and file, and happens again. */
function seeded(seed: number) {
  let state = seed;
  const random = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  return { random, pick };
}

/** Three columns (text, integer, text) under the header `a;n;b`, for small files of odd lines. */
const small: CsvColumn[] = [
  { name: 'a', type: 'VARCHAR' },
  { name: 'n', type: 'INTEGER' },
  { name: 'b', type: 'VARCHAR' },
  { name: '_source_file', type: 'VARCHAR' },
  { name: '_line', type: 'BIGINT' },
];

/**
 * A file read by the engine (undefined when it declines) and by the scanner, as rows `{ line, a, n, b }` ordered by
 * line and rejects `{ line, reason, raw }`; `small`'s columns.
 */
async function engineAndScanner(engine: DuckDbEngine, dir: string, file: string, o: CsvOptions, encoding: Encoding = 'utf-8') {
  const read = await readCsvWithEngine(engine, { path: file, name: 'p.csv', options: o, encoding, schema: small, workDir: dir });
  const rows: Record<string, unknown>[] = [];
  const rejects: { line: number; reason: string; raw: string }[] = [];
  const scanned = await readFileRows(
    file,
    'p.csv',
    { format: 'csv', csv: o, encoding, schema: small, limits: { maxBytes: 2 ** 30, maxRatio: 100, maxEntries: 1 } },
    dir,
    () => ({
      row: (line, values) => rows.push({ line, ...values }),
      reject: (line, reason, raw) => rejects.push({ line, reason, raw }),
    }),
  );
  const scanner = { rows, rejects, integrityError: scanned.integrityError };
  if (!read) return { engine: undefined, scanner };
  const typed = (await engine.query(`SELECT _line AS line, a, n, b FROM (${read.select})`)).rows.map((r) => ({
    ...r,
    line: Number(r.line),
  }));
  return {
    engine: {
      rows: [...typed, ...read.rows.map((r) => ({ line: r.line, ...r.values }))].sort((x, y) => x.line - y.line),
      rejects: read.rejects.sort((x, y) => x.line - y.line),
    },
    scanner,
  };
}

async function bronze(engine: DuckDbEngine, select: string | undefined) {
  if (!select) return [];
  const cols = schema.map((c) => engine.dialect.quoteIdent(c.name)).join(', ');
  return (await engine.query(`SELECT ${cols} FROM (${select}) ORDER BY _line`)).rows;
}

describe('partner CSV read by DuckDB (read_csv) gives what the scanner gives', () => {
  let engine: DuckDbEngine;
  const dir = tempDir('csv-engine-');
  before(async () => {
    engine = await DuckDbEngine.create();
  });
  after(() => engine.close());

  for (const [label, encoding, eol] of [
    ['UTF-8, LF', 'utf-8', '\n'],
    ['ISO-8859-1, CRLF', 'latin1', '\r\n'],
  ] as const) {
    it(`a file with bad rows (${label}): the same bronze rows with the same _line, the same quarantine entries (file, line, reason, raw)`, async () => {
      const file = join(dir, `bad-${encoding}.csv`);
      writeFileSync(file, Buffer.from(withBadRows.join(eol) + eol, encoding === 'latin1' ? 'latin1' : 'utf8'));
      assert.ok(engineCanReadCsv(engine, brazilian, encoding, schema));
      const js = await throughScanner(engine, dir, file, brazilian, encoding);
      const db = await throughEngine(engine, dir, file, brazilian, encoding);
      assert.deepEqual(db.rows, js.rows);
      assert.deepEqual(db.rejects, js.rejects);
      // What a user would see: exact counts, and each bad row by file, line and reason.
      assert.equal(db.rows.length, 6);
      assert.equal(db.rejects.length, 8);
      assert.deepEqual(
        db.rows.map((r) => [r._line, r.case_id, r.merchant_name, r.installments]),
        [
          [2, 'CB-1', 'Padaria São João', 1],
          [3, 'CB-2', 'Mercado "Araújo"', 3],
          [7, 'CB-6', 'Ótica Seis', 2],
          [9, 'CB-8', 'Loja Oito', null],
          [14, 'CB-13', 'Loja Treze', 2147483647],
          [15, 'CB-14', 'Loja Catorze', -7],
        ],
      );
      assert.deepEqual(
        db.rejects.map((r) => r.line),
        [4, 5, 6, 8, 10, 11, 12, 13],
      );
      assert.equal(
        db.rejects[1]?.reason,
        'partner.csv: line 5: column amount ("Valor (R$)"): expected a number with "," for decimals, found a value withheld from messages (sensitive column)',
      );
      assert.equal(db.rejects[2]?.reason, 'partner.csv: line 6: 6 fields, the header has 9');
      assert.equal(db.rejects[2]?.raw, 'CB-5;25/11/2026;Loja Cinco;7,00;0;1');
      assert.equal(
        db.rejects[7]?.reason,
        'partner.csv: line 13: field 3: a closing quote is followed by "D" instead of the delimiter or the line end',
      );
    });
  }

  it('null values — the default (the empty text), the empty text and NA, NA alone — as the scanner reads them, quoted or not', async () => {
    const file = join(dir, 'nulls.csv');
    const lines = [
      ...withBadRows,
      'CB-20;NA;NA;NA;NA;NA;NA;NA;',
      'CB-21;"";"";"";"";"";"";"";',
      'CB-22;"NA";"NA";"NA";"NA";"NA";"NA";"NA";',
      'CB-23;;;;;;;;',
    ];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const seen: Record<string, { rows: number[]; rejects: number[] }> = {};
    for (const nullValues of [[''], ['', 'NA'], ['NA']]) {
      const o = csvOptionsSchema.parse({ ...brazilian, nullValues });
      const js = await throughScanner(engine, dir, file, o, 'utf-8');
      const db = await throughEngine(engine, dir, file, o, 'utf-8');
      assert.deepEqual(db.rows, js.rows, JSON.stringify(nullValues));
      assert.deepEqual(db.rejects, js.rejects, JSON.stringify(nullValues));
      seen[nullValues.join('|')] = { rows: db.rows.map((r) => Number(r._line)), rejects: db.rejects.map((r) => r.line) };
      if (nullValues.includes('NA')) {
        const na = db.rows.find((r) => r.case_id === 'CB-20');
        assert.deepEqual([na?.opened_on, na?.merchant_name, na?.amount, na?.installments, na?.disputed], [null, null, null, null, null]);
      }
    }
    // NA is a bad date unless it is a null value; the empty text is a bad date when only NA is.
    assert.deepEqual(seen[''], { rows: [2, 3, 7, 9, 14, 15, 17, 19], rejects: [4, 5, 6, 8, 10, 11, 12, 13, 16, 18] });
    assert.deepEqual(seen['|NA'], { rows: [2, 3, 7, 9, 14, 15, 16, 17, 18, 19], rejects: [4, 5, 6, 8, 10, 11, 12, 13] });
    assert.deepEqual(seen.NA?.rows.includes(19), false);
    assert.deepEqual(seen.NA?.rows.includes(16), true);
  });

  it('a tab or a space as the delimiter: empty fields are not blanks at a value’s ends (one COPY, no text checks); a value’s trailing space is', async () => {
    const copies: string[] = [];
    const counting = new Proxy(engine, {
      get(target, prop, receiver) {
        // A COPY runs as a statement (exec) or as a query that returns what it wrote (RETURN_STATS).
        if (prop === 'exec' || prop === 'query')
          return (sql: string) => {
            if (sql.startsWith('COPY')) copies.push(sql);
            return prop === 'exec' ? target.exec(sql) : target.query(sql);
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const cases: [string, string, string[], number][] = [
      [
        'tab',
        '\t',
        [
          'CB-1\t27/11/2026\tPadaria\t1,00\t0\t1\t27/11/2026 13:05:09\tsim\t',
          '\t26/11/2026\tLoja\t2,00\t\t\t\t\t',
          'CB-3\t\t"Loja ""X"" "\t3,00\t0\t2\t24/11/2026 12:00:00\tN\tx',
        ],
        1,
      ],
      [
        'space',
        ' ',
        [
          'CB-1 27/11/2026 Padaria 1,00 0 1 "27/11/2026 13:05:09" sim ',
          ' 26/11/2026 "Loja Dois" 2,00     ',
          'CB-3  "Loja ""X"" " 3,00 0 2 "24/11/2026 12:00:00" N x',
        ],
        1,
      ],
      ['tab, a trailing space', '\t', ['CB-1\t27/11/2026\tPadaria \t1,00\t0\t1\t27/11/2026 13:05:09\tsim\t'], 2],
    ];
    for (const [label, delimiter, rows, expected] of cases) {
      const file = join(dir, `blank-delimiter-${copies.length}.csv`);
      // The header's names hold spaces: quoted, as a space-separated file needs them.
      const header = HEADER.split(';')
        .map((h) => `"${h}"`)
        .join(delimiter);
      writeFileSync(file, `${[header, ...rows].join('\n')}\n`);
      const o = csvOptionsSchema.parse({ ...brazilian, delimiter });
      assert.ok(engineCanReadCsv(engine, o, 'utf-8', schema), label);
      const js = await throughScanner(engine, dir, file, o, 'utf-8');
      const before = copies.length;
      const db = await throughEngine(counting as DuckDbEngine, dir, file, o, 'utf-8');
      assert.equal(copies.length - before, expected, `${label}: COPYs`);
      assert.deepEqual(db.rows, js.rows, label);
      assert.deepEqual(db.rejects, js.rejects, label);
      assert.equal(db.rows.length, rows.length, label);
      // An empty value between two delimiters is an empty value, not padding around the quoted one after it.
      if (label !== 'tab, a trailing space')
        assert.deepEqual(
          db.rows.map((r) => [r._line, r.case_id, r.merchant_name, r.amount]),
          [
            [2, 'CB-1', 'Padaria', 1],
            [3, null, delimiter === ' ' ? 'Loja Dois' : 'Loja', 2],
            [4, 'CB-3', 'Loja "X" ', 3],
          ],
          label,
        );
    }
    assert.equal(copies.length, 4);
  });

  it('a clean file of many rows: every row once, on its own line, typed as the scanner types it', async () => {
    const file = join(dir, 'many.csv');
    const lines = [HEADER];
    for (let i = 0; i < 50_000; i++)
      lines.push(
        `CB-${i};${String(1 + (i % 28)).padStart(2, '0')}/11/2026;Loja ${i};${i},${String(i % 100).padStart(2, '0')};0,${i % 10};${i % 12};01/11/2026 10:00:00;${i % 2 ? 'sim' : 'não'};`,
      );
    writeFileSync(file, `${lines.join('\n')}\n`);
    const js = await throughScanner(engine, dir, file, brazilian, 'utf-8');
    const db = await throughEngine(engine, dir, file, brazilian, 'utf-8');
    assert.equal(db.count, 50_000);
    assert.equal(db.rows.length, 50_000);
    assert.deepEqual(db.rows, js.rows);
    assert.ok(db.rows.every((r, i) => r._line === i + 2 && r.case_id === `CB-${i}`));
  });

  it('text with any blank JavaScript trims at its start or end (tab, NBSP, ideographic space, BOM…) is trimmed as the scanner trims it', async () => {
    const file = join(dir, 'blanks.csv');
    const blanks = [
      '\t',
      '\v',
      '\f',
      ' ',
      '\u00a0',
      '\u1680',
      '\u2000',
      '\u2005',
      '\u200a',
      '\u2028',
      '\u2029',
      '\u202f',
      '\u205f',
      '\u3000',
      '\ufeff',
    ];
    const names = ['Loja', '\u0001Loja\u0001', 'x', 'Loja\u200bZ', ...blanks.flatMap((b) => [`${b}Loja`, `Loja${b}`, `${b}L${b}`, b])];
    const lines = [HEADER, ...names.map((n, i) => `CB-${i};27/11/2026;${n};1,00;0;1;27/11/2026 13:05:09;sim;`)];
    writeFileSync(file, `${lines.join('\n')}\n`);
    const js = await throughScanner(engine, dir, file, brazilian, 'utf-8');
    const db = await throughEngine(engine, dir, file, brazilian, 'utf-8');
    assert.equal(db.rows.length, names.length);
    assert.deepEqual(db.rows, js.rows);
    assert.deepEqual(db.rejects, js.rejects);
    assert.equal(db.rows[4]?.merchant_name, 'Loja');
  });

  it('quoted values keep their blanks, a delimiter and blank inside quotes is text, a quote inside an unquoted value is text: as the scanner reads them', async () => {
    // No unquoted value has blanks at its ends, so the engine types text without checking it row by row.
    const lines = [HEADER];
    for (let i = 0; i < 30; i++)
      lines.push(
        `CB-${i};27/11/2026;${['"  Loja Um  "', '"Fraude; não reconhecida"', 'Loja "Dois"', '"\u3000Loja\u00a0"', 'Açaí'][i % 5]};1,00;0;1;27/11/2026 13:05:09;sim;`,
      );
    for (const [label, encoding] of [
      ['UTF-8', 'utf-8'],
      ['ISO-8859-1', 'latin1'],
    ] as const) {
      const file = join(dir, `quoted-${encoding}.csv`);
      const text = `${lines.join('\r\n')}\r\n`;
      writeFileSync(
        file,
        Buffer.from(encoding === 'latin1' ? text.replaceAll('\u3000', ' ') : text, encoding === 'latin1' ? 'latin1' : 'utf8'),
      );
      const js = await throughScanner(engine, dir, file, brazilian, encoding);
      const db = await throughEngine(engine, dir, file, brazilian, encoding);
      assert.equal(db.rows.length, 30, label);
      assert.deepEqual(db.rows, js.rows, label);
      assert.deepEqual(db.rejects, js.rejects, label);
      assert.equal(db.rows[0]?.merchant_name, '  Loja Um  ', label);
      assert.equal(db.rows[2]?.merchant_name, 'Loja "Dois"', label);
    }
  });

  it('one unquoted value with a blank at its end far into the file (past the first MiB) is trimmed as the scanner trims it', async () => {
    for (const [blank, eol] of [
      ['\u3000', '\n'],
      [' ', '\r\n'],
      ['\u00a0', '\n'],
    ] as const) {
      const file = join(dir, 'late-blank.csv');
      const lines = [HEADER];
      for (let i = 0; i < 40_000; i++)
        lines.push(`CB-${i};27/11/2026;${i === 31_337 ? `Loja${blank}` : `Loja ${i}`};1,00;0;1;27/11/2026 13:05:09;sim;`);
      writeFileSync(file, `${lines.join(eol)}${eol}`);
      const db = await throughEngine(engine, dir, file, brazilian, 'utf-8');
      assert.equal(db.count, 40_000);
      const row = db.rows.find((r) => r._line === 31_339);
      assert.equal(row?.merchant_name, 'Loja', JSON.stringify(blank));
      assert.deepEqual(db.rejects, []);
    }
  });

  it("blanks beside a delimiter inside quotes on every line do not hide one unquoted blank at a value's start or end far into the file", async () => {
    for (const [blank, at, encoding] of [
      [' ', 'start', 'latin1'],
      [' ', 'end', 'utf-8'],
      ['\u00a0', 'start', 'latin1'],
      ['\t', 'end', 'latin1'],
      ['\u3000', 'start', 'utf-8'],
    ] as const) {
      const file = join(dir, 'quoted-blanks.csv');
      const lines = [HEADER];
      for (let i = 0; i < 40_000; i++) {
        const name = i === 31_337 ? (at === 'start' ? `${blank}Loja` : `Loja${blank}`) : `"Loja ; ${i}"`;
        lines.push(`CB-${i};27/11/2026;${name};1,00;0;1;27/11/2026 13:05:09;sim;"x ;y"`);
      }
      writeFileSync(file, Buffer.from(`${lines.join('\r\n')}\r\n`, encoding === 'latin1' ? 'latin1' : 'utf8'));
      const db = await throughEngine(engine, dir, file, brazilian, encoding);
      const label = JSON.stringify({ blank, at, encoding });
      assert.equal(db.count, 40_000, label);
      assert.equal(db.rows.find((r) => r._line === 31_339)?.merchant_name, 'Loja', label);
      assert.equal(db.rows.find((r) => r._line === 2)?.merchant_name, 'Loja ; 0', label);
      assert.deepEqual(db.rejects, [], label);
    }
  });

  it('integers and dates of every shape, without a thousands separator (shapes tested by GLOB): what the scanner gives', async () => {
    const plain: CsvOptions = { ...brazilian, thousandsSeparator: '' };
    const ints = [
      '7',
      '+2',
      '-7',
      '007',
      '2147483647',
      '2147483648',
      '-2147483649',
      '1.000',
      '1e3',
      '0x10',
      '1_000',
      '+',
      '-',
      '+-1',
      '5a',
      '٣',
      '１',
      '1 2',
      '',
      ' 5',
      '5 ',
    ];
    const dates = [
      '27/11/2026',
      '5/11/2026',
      '27/1/2026',
      '27/11/26',
      '27-11-2026',
      '27/11/2026 ',
      '2026-11-27',
      '31/02/2026',
      '٢٧/١١/٢٠٢٦',
      '27/11/20266',
      '',
    ];
    const lines = [HEADER];
    for (const [i, n] of ints.entries()) lines.push(`CB-${i};27/11/2026;Loja;1,00;0;${n};27/11/2026 13:05:09;sim;`);
    for (const [i, d] of dates.entries()) lines.push(`CB-D${i};${d};Loja;1,00;0;1;27/11/2026 13:05:09;sim;`);
    // Numbers past their type: an INTEGER, a DECIMAL(18,2) (rounding that carries past it too), a DOUBLE.
    for (const [i, [amount, rate, n]] of [
      ['9999999999999999,99', '1e308', '-2147483648'],
      ['9999999999999999,995', '0', '1'],
      ['12345678901234567,0', '0', '1'],
      ['1,00', '1e309', '1'],
      ['0,005', '0', '1'],
      ['1,00', '-1e309', '1'],
    ].entries())
      lines.push(`CB-N${i};27/11/2026;Loja;${amount};${rate};${n};27/11/2026 13:05:09;sim;`);
    const file = join(dir, 'shapes.csv');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const js = await throughScanner(engine, dir, file, plain, 'utf-8');
    const db = await throughEngine(engine, dir, file, plain, 'utf-8');
    assert.deepEqual(db.rows, js.rows);
    assert.deepEqual(db.rejects, js.rejects);
    // Both read some of each: the shapes decide, not a blanket refusal.
    assert.ok(js.rows.some((r) => r.installments === 2) && js.rows.some((r) => r.installments === -7), JSON.stringify(js.rows));
    assert.ok(js.rejects.length > 5, JSON.stringify(js.rejects));
    const reasons = js.rejects.map((r) => r.reason).join('\n');
    assert.match(reasons, /line 7: .*expected an integer from -2147483648 to 2147483647 \(INTEGER\), found "2147483648"/);
    assert.match(reasons, /expected a number of at most 16 digits before the decimal separator \(DECIMAL\(18,2\)\)/);
    assert.match(reasons, /expected a finite number \(DOUBLE\), found "1e309"/);
    assert.deepEqual(
      js.rows.filter((r) => String(r.case_id).startsWith('CB-N')).map((r) => r.case_id),
      ['CB-N0', 'CB-N4'],
      'the largest values that fit are read, the ones past them are not',
    );
  });

  it('random files of blanks, quotes and delimiters in and around values: the engine gives what the scanner gives, file after file', async () => {
    const { random, pick } = seeded(20261129);
    const blanks = { 'utf-8': [' ', '\t', '\u00a0', '\u3000', '\u2009', '\ufeff'], latin1: [' ', '\t', '\u00a0'] } as const;
    let engineRead = 0;
    for (let f = 0; f < 40; f++) {
      const encoding = f % 2 === 0 ? 'utf-8' : 'latin1';
      const eol = f % 3 === 0 ? '\r\n' : '\n';
      const blank = () => pick(blanks[encoding]);
      // Text values: most plain, some with blanks at an end (unquoted: trimmed by the scanner), blanks or delimiters
      // inside quotes (kept), quotes inside unquoted text (text), doubled quotes inside quoted text.
      const name = (): string => {
        switch (Math.floor(random() * 12)) {
          case 0:
            return `${blank()}Loja`;
          case 1:
            return `Loja${blank()}`;
          case 2:
            return `"${blank()}Loja ; x${blank()}"`;
          case 3:
            return `"Fraude; não${blank()}"`;
          case 4:
            return `Lo"ja ${blank()}x`;
          case 5:
            return `"Loja ""A"" ;"`;
          case 6:
            return `"${blank()};${blank()}"`;
          default:
            return `Loja ${Math.floor(random() * 1000)}`;
        }
      };
      const lines = [HEADER];
      for (let i = 0; i < 25; i++) {
        // Mostly plain lines, so that a file has one tricky value or a few (one anywhere in it decides its path).
        const value = random() < 0.12 ? name() : `Loja ${i}`;
        const extra = random() < 0.1 ? name() : '';
        lines.push(`CB-${i};27/11/2026;${value};1,00;0;1;27/11/2026 13:05:09;sim;${extra}`);
      }
      const file = join(dir, `random-${f}.csv`);
      writeFileSync(file, Buffer.from(`${lines.join(eol)}${eol}`, encoding === 'latin1' ? 'latin1' : 'utf8'));
      const label = `file ${f} (${encoding}, ${JSON.stringify(eol)}):\n${lines.join('\n')}`;
      const read = await readPartner(engine, dir, file, { encoding });
      if (!read) continue;
      engineRead++;
      const js = await throughScanner(engine, dir, file, brazilian, encoding);
      const db = await throughEngine(engine, dir, file, brazilian, encoding);
      assert.deepEqual(db.rows, js.rows, label);
      assert.deepEqual(db.rejects, js.rejects, label);
    }
    assert.ok(engineRead >= 30, `the engine read ${engineRead} of 40 files (the rest the scanner reads alone)`);
  });

  it('a file DuckDB reads in several buffers, in parallel: every row once, on its own line', async () => {
    const file = join(dir, 'large.csv');
    const n = 1_000_000;
    const out: string[] = [HEADER];
    for (let i = 0; i < n; i++) out.push(`CB-${i};27/11/2026;L${i % 10};1,00;0;1;27/11/2026 13:05:09;sim;`);
    writeFileSync(file, `${out.join('\n')}\n`);
    const read = await readPartner(engine, dir, file);
    assert.ok(read, 'the engine reads the file');
    assert.equal(read.count, n);
    const q = await engine.query(
      `SELECT count(*) AS n, count(DISTINCT _line) AS lines, count(*) FILTER (WHERE _line <> 2 + CAST(substr(case_id, 4) AS BIGINT)) AS misplaced FROM (${read.select})`,
    );
    assert.deepEqual(
      { n: Number(q.rows[0]?.n), lines: Number(q.rows[0]?.lines), misplaced: Number(q.rows[0]?.misplaced) },
      { n, lines: n, misplaced: 0 },
    );
  });

  it('a file of many buffers with bad rows spread through it (ISO-8859-1, CRLF): exact counts, every reject on its own line, the memory limit set back', async () => {
    // DuckDB writes the staged rows under a lower memory limit (its buffers read ahead wait for the one being written):
    // rows far into the file keep their lines, the rejects theirs, and the engine's own limit is back afterwards.
    const limitBefore = await engine.query(`SELECT current_setting('memory_limit') AS m`);
    const file = join(dir, 'spread.csv');
    const n = 400_000;
    const bad = new Map<number, string>([
      [3, 'CB-3;27/11/2026;Loja Três;1,0x;0;1;27/11/2026 13:05:09;sim;'],
      [123_457, 'CB-123457;27/11/2026;Açougue;1,00;0;1'],
      [250_001, 'CB-250001;31/02/2026;Padaria São João;1,00;0;1;27/11/2026 13:05:09;sim;'],
      [399_998, 'CB-399998;27/11/2026;"Loja "Fim"";1,00;0;1;27/11/2026 13:05:09;sim;'],
    ]);
    const out: string[] = [HEADER];
    for (let i = 0; i < n; i++)
      out.push(
        bad.get(i) ??
          `CB-${i};27/11/2026;Açaí ${i % 97};${i % 1000},${String(i % 100).padStart(2, '0')};0;${i % 12};27/11/2026 13:05:09;sim;`,
      );
    writeFileSync(file, Buffer.from(`${out.join('\r\n')}\r\n`, 'latin1'));
    // Written under the lower limit whatever its size (by default only files of 128 MiB and more are).
    const read = await readPartner(engine, dir, file, { encoding: 'latin1', boundedFromBytes: 0 });
    assert.ok(read, 'the engine reads the file');
    assert.equal(read.count + read.rows.length + read.rejects.length, n);
    assert.equal(read.count, n - bad.size);
    // Row i of the file (0-based after the header) is on line i + 2.
    assert.deepEqual(
      read.rejects.map((r) => [r.line, r.reason.replace(/: .*$/, '')]),
      [...bad.keys()].map((i) => [i + 2, 'partner.csv']),
    );
    assert.deepEqual(
      read.rejects.map((r) => r.raw),
      [...bad.values()],
    );
    assert.match(read.rejects[1]?.reason ?? '', /^partner\.csv: line 123459: 6 fields, the header has 9$/);
    const q = await engine.query(
      `SELECT count(*) AS n, count(DISTINCT _line) AS lines,
         count(*) FILTER (WHERE _line <> 2 + CAST(substr(case_id, 4) AS BIGINT)) AS misplaced,
         count(*) FILTER (WHERE merchant_name NOT LIKE 'Açaí %') AS undecoded FROM (${read.select})`,
    );
    assert.deepEqual(Object.fromEntries(Object.entries(q.rows[0] ?? {}).map(([k, v]) => [k, Number(v)])), {
      n: n - bad.size,
      lines: n - bad.size,
      misplaced: 0,
      undecoded: 0,
    });
    const limitAfter = await engine.query(`SELECT current_setting('memory_limit') AS m`);
    assert.equal(limitAfter.rows[0]?.m, limitBefore.rows[0]?.m);
  });

  it('an engine whose settings are locked (a sandboxed session) and one with a lower memory limit of its own still read the file', async () => {
    const file = join(dir, 'locked.csv');
    const out: string[] = [HEADER];
    for (let i = 0; i < 20_000; i++) out.push(`CB-${i};27/11/2026;Loja ${i};1,00;0;1;27/11/2026 13:05:09;sim;`);
    writeFileSync(file, `${out.join('\n')}\n`);
    for (const label of ['locked', 'memory limit 40MB'] as const) {
      const own = label === 'locked' ? await DuckDbEngine.create() : await DuckDbEngine.create({ memoryLimit: '40MB' });
      try {
        if (label === 'locked') await own.sandbox([dir]);
        const before = await own.query(`SELECT current_setting('memory_limit') AS m`);
        const read = await readPartner(own, dir, file, { boundedFromBytes: 0 });
        assert.ok(read, `${label}: the engine reads the file`);
        assert.equal(read.count, 20_000, label);
        const after = await own.query(`SELECT current_setting('memory_limit') AS m`);
        assert.equal(after.rows[0]?.m, before.rows[0]?.m, label);
      } finally {
        await own.close();
      }
    }
  });

  it('a file that does not fit under the lower limit is read again under the engine’s own: the same rows and rejects', async () => {
    const file = join(dir, 'tight.csv');
    const out: string[] = [HEADER];
    for (let i = 0; i < 50_000; i++)
      out.push(i === 777 ? 'CB-777;27/11/2026;Loja;1,0x;0;1' : `CB-${i};27/11/2026;Loja ${i};1,00;0;1;27/11/2026 13:05:09;sim;`);
    writeFileSync(file, `${out.join('\n')}\n`);
    const own = await DuckDbEngine.create();
    try {
      const failures: string[] = [];
      const under = own.execUnderMemoryLimit.bind(own);
      own.execUnderMemoryLimit = (sql, bytes) =>
        under(sql, bytes).catch((e: Error) => {
          failures.push(e.message);
          throw e;
        });
      const before = await own.query(`SELECT current_setting('memory_limit') AS m`);
      // 1 MiB: less than one of DuckDB's read buffers (4 MiB), so the COPY cannot run under it.
      const read = await readPartner(own, dir, file, { boundedFromBytes: 0, copyMemoryBytes: 2 ** 20 });
      assert.equal(failures.length, 1, 'the COPY failed under the lower limit');
      assert.match(failures[0] ?? '', /Out of Memory/);
      assert.ok(read, 'the engine reads the file');
      assert.equal(read.count, 49_999);
      assert.deepEqual(
        read.rejects.map((r) => [r.line, r.raw]),
        [[779, 'CB-777;27/11/2026;Loja;1,0x;0;1']],
      );
      const q = await own.query(
        `SELECT count(*) FILTER (WHERE _line <> 2 + CAST(substr(case_id, 4) AS BIGINT)) AS misplaced FROM (${read.select})`,
      );
      assert.equal(Number(q.rows[0]?.misplaced), 0);
      const after = await own.query(`SELECT current_setting('memory_limit') AS m`);
      assert.equal(after.rows[0]?.m, before.rows[0]?.m);
    } finally {
      await own.close();
    }
  });

  it('a line longer than DuckDB reads (2 MiB) still gives the scanner’s rows', async () => {
    const file = join(dir, 'long.csv');
    const long = 'x'.repeat(3 * 1024 * 1024);
    const lines = [HEADER];
    for (let i = 0; i < 20; i++) lines.push(`CB-${i};27/11/2026;${i === 7 ? long : `Loja ${i}`};1,00;0;1;27/11/2026 13:05:09;sim;`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    const js = await throughScanner(engine, dir, file, brazilian, 'utf-8');
    const read = await readPartner(engine, dir, file);
    const db = read ? await throughEngine(engine, dir, file, brazilian, 'utf-8') : js;
    assert.equal(db.rows.length, 20);
    assert.deepEqual(db.rows, js.rows);
    assert.equal(db.rows[7]?.merchant_name, long);
    assert.equal(db.rows[7]?._line, 9);
  });

  it('a row with more fields than the header whose extra fields are empty (a delimiter too many at its end) is rejected, as the scanner rejects it, in the middle of the file and on its last line', async () => {
    // DuckDB drops empty fields past the columns it is given: read as the header's nine, `…;sim;;` would be a good row.
    const file = join(dir, 'trailing.csv');
    const lines = [
      HEADER,
      'CB-1;27/11/2026;Padaria;1,00;0;1;27/11/2026 13:05:09;sim;',
      'CB-2;27/11/2026;Padaria;2,00;0;1;27/11/2026 13:05:09;sim;;',
      'CB-3;27/11/2026;"Loja; Três";3,00;0;1;27/11/2026 13:05:09;sim;x',
      'CB-4;27/11/2026;Padaria;4,00;0;1;27/11/2026 13:05:09;sim;x;;;',
      'CB-5;27/11/2026;Padaria;5,00;0;1;27/11/2026 13:05:09;sim',
      '"CB-6";27/11/2026;Padaria;6,00;0;1;27/11/2026 13:05:09;sim;;',
    ];
    writeFileSync(file, `${lines.join('\r\n')}\r\n`);
    assert.ok(await readPartner(engine, dir, file), 'the engine reads the file');
    const js = await throughScanner(engine, dir, file, brazilian, 'utf-8');
    const db = await throughEngine(engine, dir, file, brazilian, 'utf-8');
    assert.deepEqual(db.rows, js.rows);
    assert.deepEqual(db.rejects, js.rejects);
    assert.deepEqual(
      db.rows.map((r) => [r._line, r.case_id]),
      [
        [2, 'CB-1'],
        [4, 'CB-3'],
      ],
    );
    assert.deepEqual(
      db.rejects.map((r) => r.reason),
      [
        'partner.csv: line 3: 10 fields, the header has 9',
        'partner.csv: line 5: 12 fields, the header has 9',
        'partner.csv: line 6: 8 fields, the header has 9',
        'partner.csv: line 7: 10 fields, the header has 9',
      ],
    );
  });

  it('a line that begins with a carriage return is left to the scanner (DuckDB reads past it on the first line after the header; to the scanner it is a blank, and a quote after it text)', async () => {
    const file = join(dir, 'cr-start.csv');
    writeFileSync(
      file,
      `${HEADER}\n\r"CB-1";27/11/2026;Loja;2,00;0;1;27/11/2026 13:05:09;sim;\nCB-2;27/11/2026;Padaria;1,00;0;1;27/11/2026 13:05:09;sim;\n`,
    );
    assert.equal(await readPartner(engine, dir, file), undefined);
    const js = await throughScanner(engine, dir, file, brazilian, 'utf-8');
    assert.deepEqual(
      js.rows.map((r) => r.case_id),
      ['"CB-1"', 'CB-2'],
    );
  });

  it('random lines of quotes, delimiters, carriage returns and blanks (fields too many, too few, quoted, empty): the engine gives what the scanner gives, file after file', async () => {
    const { random, pick } = seeded(20261130);
    const o = csvOptionsSchema.parse({ delimiter: ';', columns: { a: 'a', n: 'n', b: 'b' } });
    const atoms = ['q', 'q', '1', '"', '\r', ' ', ';', '""'];
    const value = () => {
      if (random() < 0.6) return pick(['q', 'x y', '"q"', '"a;b"', '1']);
      let v = '';
      for (let i = Math.floor(random() * 3); i >= 0; i--) v += pick(atoms);
      return v;
    };
    let engineRead = 0;
    for (let f = 0; f < 150; f++) {
      const eol = random() < 0.5 ? '\r\n' : '\n';
      const lines = ['a;n;b'];
      for (let i = 0; i < 6; i++) lines.push(random() < 0.25 ? `${value()};${Math.floor(random() * 9)};${value()}` : `r${i};${i};v`);
      const text = `${lines.join(eol)}${eol}`;
      const file = join(dir, `random-cr-${f}.csv`);
      writeFileSync(file, text);
      const read = await engineAndScanner(engine, dir, file, o);
      if (!read.engine) continue;
      engineRead++;
      const label = `file ${f}: ${JSON.stringify(text)}`;
      assert.deepEqual(read.engine.rows, read.scanner.rows, label);
      assert.deepEqual(read.engine.rejects, read.scanner.rejects, label);
    }
    assert.ok(engineRead >= 90, `the engine read ${engineRead} of 150 files (the rest the scanner reads alone)`);
  });

  it('blanks beside quotes, carriage returns and skipped lines that DuckDB reads otherwise are left to the scanner; what both read alike stays with the engine', async () => {
    const header = 'a;n;b';
    // [what, file text, options, whether the engine reads it]
    const cases: [string, string, Record<string, unknown>, boolean][] = [
      ['one space before a quoted value, trimmed (DuckDB skips it too)', 'x;1; "c;d"\nr;2;s\n', {}, true],
      ['one space before a quoted value, not trimmed (text to the scanner)', 'x;1; "c"\nr;2;s\n', { trim: false }, false],
      ['a tab before a quoted value holding the delimiter (DuckDB splits it)', 'x;1;\t"p;q"\nr;2;s\n', {}, false],
      ['two spaces before a quoted value', 'x;1;  "p"\nr;2;s\n', {}, false],
      ['"x" "y" (one value to DuckDB, a reject to the scanner)', 'x;1;"p" "q"\nr;2;s\n', {}, false],
      ['a space after a closing quote, not trimmed (a reject to the scanner)', 'x;1;"p" \nr;2;s\n', { trim: false }, false],
      ['a space after a closing quote, trimmed', 'x;1;"p" \nr;2;s\n', {}, true],
      ['doubled quotes and a space inside a quoted value, not trimmed', 'x;1;"Loja ""X"" "\nr;2;s\n', { trim: false }, true],
      ['a closing quote, then a carriage return ending the file', 'x;1;"p"\nr;2;"s"\r', {}, false],
      [
        'a carriage return after a blank at a line start, and an empty line (DuckDB reads one line as two and skips the empty one)',
        'x;1;p\n \rq;2;s\nr;3;t\n\nu;4;v\n',
        { trim: false },
        false,
      ],
      ['a quoted line break in the lines skipped before the header', '"\n"\n' + header + '\nx;1;p\nr;2;s\n', { skipLines: 2 }, false],
      ['an escape other than the quote', 'x;1;"p~q"\nr;2;s\n', { escape: '~' }, false],
    ];
    for (const [what, body, more, engineReads] of cases) {
      const file = join(dir, `quotes-${cases.findIndex((c) => c[0] === what)}.csv`);
      writeFileSync(file, more.skipLines ? body : `${header}\n${body}`);
      const o = csvOptionsSchema.parse({ delimiter: ';', columns: { a: 'a', n: 'n', b: 'b' }, ...more });
      const read = await engineAndScanner(engine, dir, file, o);
      assert.equal(read.engine !== undefined, engineReads, `${what}: ${engineReads ? 'read by the engine' : 'left to the scanner'}`);
      if (read.engine) {
        assert.deepEqual(read.engine.rows, read.scanner.rows, what);
        assert.deepEqual(read.engine.rejects, read.scanner.rejects, what);
      }
    }
  });

  it('declines what only the scanner reads right: a quoted line break, a blank line (the scanner then reads the file)', async () => {
    const quotedBreak = join(dir, 'break.csv');
    writeFileSync(quotedBreak, `${HEADER}\nCB-1;27/11/2026;"Padaria\nSão João";1,00;0;1;27/11/2026 13:05:09;sim;\n`);
    assert.equal(
      await readCsvWithEngine(engine, { path: quotedBreak, name: 'b.csv', options: brazilian, encoding: 'utf-8', schema, workDir: dir }),
      undefined,
    );
    const blank = join(dir, 'blank.csv');
    writeFileSync(blank, `${HEADER}\n\nCB-1;27/11/2026;Padaria;1,00;0;1;27/11/2026 13:05:09;sim;\n`);
    assert.equal(
      await readCsvWithEngine(engine, { path: blank, name: 'b.csv', options: brazilian, encoding: 'utf-8', schema, workDir: dir }),
      undefined,
    );
  });
});
