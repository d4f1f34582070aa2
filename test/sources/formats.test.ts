import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createGzip, gzipSync } from 'node:zlib';
import { zipFiles } from '../../src/demo/simulator/partner-files.js';
import { type CsvOptions, csvOptionsSchema, csvParser, normalizeHeader } from '../../src/sources/formats/csv.js';
import { fixedWidthParser, layoutSchema } from '../../src/sources/formats/fixed-width.js';
import { collectingSink, parseText } from '../../src/sources/formats/format.js';
import { type FileFormat, readFileRows } from '../../src/sources/formats/read-file.js';
import { datePattern } from '../../src/sources/formats/values.js';
import { tempDir } from '../helpers.js';
import { findBinary, skipUnless } from '../launchers.js';

const chargebackSchema = [
  { name: 'case_id', type: 'VARCHAR' },
  { name: 'opened_on', type: 'DATE' },
  { name: 'merchant_name', type: 'VARCHAR' },
  { name: 'amount', type: 'DECIMAL(18,2)', sensitive: true },
  { name: 'reason', type: 'VARCHAR' },
  { name: 'installments', type: 'INTEGER' },
  { name: '_source_file', type: 'VARCHAR' },
  { name: '_line', type: 'BIGINT' },
];

/** A Brazilian acquirer's report: `;`, decimal comma, dd/MM/yyyy, accented headers. */
const brazilian: CsvOptions = csvOptionsSchema.parse({
  delimiter: ';',
  decimalSeparator: ',',
  thousandsSeparator: '.',
  dateFormat: 'dd/MM/yyyy',
  columns: {
    case_id: 'Caso',
    opened_on: 'Data de Abertura',
    merchant_name: 'Nome do Estabelecimento',
    amount: 'Valor (R$)',
    reason: 'Motivo',
    installments: 'Parcelas',
  },
});

const csvText = [
  'Caso;Data de Abertura;Nome do Estabelecimento;Valor (R$);Motivo;Parcelas',
  'CB-1;27/11/2026;Padaria São João;1.234,56;"Fraude; cartão não presente";1',
  'CB-2;26/11/2026;"Mercado ""Araújo""";99,90;"Mercadoria',
  'não recebida";3',
  '',
  'CB-3;31/02/2026;Loja Três;10,00;Outro;1',
  'CB-4;25/11/2026;Loja Quatro;12,3x;Outro;1',
  'CB-5;25/11/2026;Loja Cinco;7,00;Outro',
  'CB-6;24/11/2026;Ótica Seis;0,50;Duplicidade;2',
].join('\r\n');

describe('CSV', () => {
  it('reads the partner’s conventions: delimiter, quoting, decimal comma, dates, accented headers, rows spanning lines', async () => {
    const parsed = await parseText(csvParser(brazilian, chargebackSchema), csvText, 'CHARGEBACKS.csv');
    assert.equal(parsed.integrityError, undefined);
    assert.deepEqual(
      parsed.rows.map((r) => [r.line, r.values.case_id, r.values.opened_on, r.values.amount, r.values.reason, r.values.installments]),
      [
        [2, 'CB-1', '2026-11-27', '1234.56', 'Fraude; cartão não presente', 1],
        [3, 'CB-2', '2026-11-26', '99.90', 'Mercadoria\nnão recebida', 3],
        [9, 'CB-6', '2026-11-24', '0.50', 'Duplicidade', 2],
      ],
    );
    assert.equal(parsed.rows[1]?.values.merchant_name, 'Mercado "Araújo"', 'doubled quotes inside a quoted field are one quote');
    assert.equal(parsed.rows[0]?.values.merchant_name, 'Padaria São João');
    // Bad rows: each with its line, the column and its header, and why.
    assert.deepEqual(
      parsed.rejects.map((r) => r.line),
      [6, 7, 8],
    );
    assert.match(
      parsed.rejects[0]?.reason ?? '',
      /CHARGEBACKS\.csv: line 6: column opened_on \("Data de Abertura"\): expected a date dd\/MM\/yyyy, found "31\/02\/2026"/,
    );
    assert.match(parsed.rejects[1]?.reason ?? '', /line 7: column amount \("Valor \(R\$\)"\): expected a number with "," for decimals/);
    assert.doesNotMatch(parsed.rejects[1]?.reason ?? '', /12,3x/, 'values of sensitive columns stay out of messages');
    assert.equal(parsed.rejects[1]?.raw, 'CB-4;25/11/2026;Loja Quatro;12,3x;Outro;1', 'the raw line is kept for quarantine');
    assert.match(parsed.rejects[2]?.reason ?? '', /line 8: 5 fields, the header has 6/);
    for (const size of [1, 2, 3, 5, 7, 64]) {
      const sink = collectingSink();
      const pieces = (async function* () {
        for (let i = 0; i < csvText.length; i += size) yield csvText.slice(i, i + size);
      })();
      assert.equal(await csvParser(brazilian, chargebackSchema)(pieces, 'CHARGEBACKS.csv', sink), undefined);
      assert.deepEqual([sink.rows, sink.rejects], [parsed.rows, parsed.rejects], `CRLF text in chunks of ${size}`);
    }
  });

  it('fails the whole file when a quoted field is left open (a file cut short) or the header lacks a column', async () => {
    const cut = await parseText(csvParser(brazilian, chargebackSchema), `${csvText.split('\r\n').slice(0, 3).join('\n')}\n`, 'CUT.csv');
    assert.match(cut.integrityError ?? '', /CUT\.csv: line 3: a quoted field opened on this line is never closed/);
    const renamed = await parseText(csvParser(brazilian, chargebackSchema), csvText.replace('Valor (R$)', 'Valor Bruto'), 'RENAMED.csv');
    assert.match(renamed.integrityError ?? '', /RENAMED\.csv: line 1: the header has no column for amount \("Valor \(R\$\)"\)/);
    assert.match(renamed.integrityError ?? '', /"Valor Bruto"/, 'the message shows what the header has');
  });

  it('matches unmapped columns to headers by name, ignoring case, accents and punctuation', async () => {
    assert.equal(normalizeHeader('  Valor Líquido (R$) '), 'valor_liquido_r');
    const schema = [
      { name: 'codigo_do_caso', type: 'VARCHAR' },
      { name: 'valor_liquido', type: 'DOUBLE' },
    ];
    const parsed = await parseText(csvParser(csvOptionsSchema.parse({}), schema), 'Código do Caso,VALOR LÍQUIDO\nX,2.5\n', 'n.csv');
    assert.deepEqual(parsed.rows, [{ line: 2, values: { codigo_do_caso: 'X', valor_liquido: 2.5 } }]);
  });

  it('reads files without a header by position, and timestamps with their pattern', async () => {
    const options = csvOptionsSchema.parse({
      header: false,
      delimiter: '|',
      timestampFormat: 'yyyyMMdd HH:mm:ss',
      columns: { id: 1, at: 3, ok: 2 },
    });
    const schema = [
      { name: 'id', type: 'BIGINT' },
      { name: 'ok', type: 'BOOLEAN' },
      { name: 'at', type: 'TIMESTAMP' },
    ];
    const parsed = await parseText(csvParser(options, schema), '1|S|20261127 13:05:09\n2|N|20261127 25:00:00\n', 'p.txt');
    assert.deepEqual(parsed.rows, [{ line: 1, values: { id: 1, ok: true, at: '2026-11-27 13:05:09.000' } }]);
    assert.match(parsed.rejects[0]?.reason ?? '', /line 2: column at \(field 3\): expected a timestamp yyyyMMdd HH:mm:ss/);
  });

  it('rejects a record with a malformed quote and keeps every good row after it, whatever the chunking', async () => {
    const text = [
      'id|note|n',
      '1|"ok"|1',
      '2|"bad"x|2',
      '3|plain "inner" quotes|3',
      '# a comment line',
      '4|"spans',
      'two lines"|4',
      '5|"esc \\" quote"|5',
      '6|last|6',
    ].join('\n');
    const options = csvOptionsSchema.parse({ delimiter: '|', escape: '\\', comment: '#', skipLines: 0 });
    const schema = [
      { name: 'id', type: 'INTEGER' },
      { name: 'note', type: 'VARCHAR' },
      { name: 'n', type: 'INTEGER' },
    ];
    const whole = await parseText(csvParser(options, schema), text, 'q.csv');
    assert.deepEqual(
      whole.rows.map((r) => [r.line, r.values.id, r.values.note]),
      [
        [2, 1, 'ok'],
        [4, 3, 'plain "inner" quotes'],
        [6, 4, 'spans\ntwo lines'],
        [8, 5, 'esc " quote'],
        [9, 6, 'last'],
      ],
    );
    assert.deepEqual(whole.rejects, [
      {
        line: 3,
        reason: 'q.csv: line 3: field 2: a closing quote is followed by "x" instead of the delimiter or the line end',
        raw: '2|"bad"x|2',
      },
    ]);
    // The same text cut into chunks of every size from 1 to 12 characters reads the same.
    for (let size = 1; size <= 12; size++) {
      const sink = collectingSink();
      const pieces = (async function* () {
        for (let i = 0; i < text.length; i += size) yield text.slice(i, i + size);
      })();
      const error = await csvParser(options, schema)(pieces, 'q.csv', sink);
      assert.equal(error, undefined);
      assert.deepEqual(sink.rows, whole.rows, `chunks of ${size}`);
      assert.deepEqual(sink.rejects, whole.rejects, `chunks of ${size}`);
    }
  });

  it('validates its settings with messages a user can act on', () => {
    const r = csvOptionsSchema.safeParse({ delimiter: ',', decimalSeparator: ',' });
    assert.equal(r.success, false);
    assert.match(r.error?.issues.map((i) => i.message).join('; ') ?? '', /a delimiter other than "," \(the amounts use decimal commas\)/);
    assert.throws(() => datePattern('dd/MM'), /needs yyyy, MM and dd/);
    assert.equal(datePattern('yyyy-MM-dd')('2024-02-29'), '2024-02-29');
    assert.equal(datePattern('yyyy-MM-dd')('2026-02-29'), undefined);
  });
});

const limits = { maxBytes: 10 * 2 ** 20, maxRatio: 50, maxEntries: 10 };
const ndjson: FileFormat = { format: 'ndjson', schema: [], limits };

async function read(bytes: Buffer, name: string, fmt: FileFormat = ndjson) {
  const dir = tempDir('formats-');
  const file = join(dir, 'received');
  writeFileSync(file, bytes);
  const sinks = new Map<string, ReturnType<typeof collectingSink>>();
  const result = await readFileRows(file, name, fmt, dir, (member) => {
    const s = collectingSink();
    sinks.set(member, s);
    return s;
  });
  return { result, sinks };
}

const zip = zipFiles;

describe('fixed-width values against their bronze columns', () => {
  const layout = layoutSchema.parse({
    name: 'edi',
    records: [
      {
        type: 'detail',
        role: 'detail',
        match: [{ start: 1, value: '1' }],
        fields: [
          { name: 'day', start: 2, length: 8, type: 'date' },
          { name: 'installment', start: 10, length: 12, type: 'integer' },
          { name: 'amount', start: 22, length: 20, type: 'decimal', scale: 2 },
        ],
      },
    ],
  });
  const schema = [
    { name: 'day', type: 'DATE' },
    { name: 'installment', type: 'INTEGER' },
    { name: 'amount', type: 'DECIMAL(18,2)' },
  ];
  const line = (day: string, n: string, cents: string) => `1${day}${n.padStart(12)}${cents.padStart(20)}`;

  it('an amount is exact text, and a value bronze cannot hold (a day the month lacks, an integer or amount past its type) rejects its line', async () => {
    const text = [
      line('20261127', '3', '1234567890123456'),
      line('20260230', '3', '100'),
      line('20261127', '2147483648', '100'),
      line('20261127', '3', '1000000000000000000'),
      line('20240229', '-2147483648', '-5'),
    ].join('\n');
    const parsed = await parseText(fixedWidthParser(layout, schema), text, 'EDI.txt');
    assert.deepEqual(
      parsed.rows.map((r) => r.values),
      [
        { day: '2026-11-27', installment: 3, amount: '12345678901234.56' },
        { day: '2024-02-29', installment: -2147483648, amount: '-0.05' },
      ],
    );
    assert.deepEqual(
      parsed.rejects.map((r) => [r.line, r.reason.replace(/^EDI.txt: line \d+: detail record, /, '')]),
      [
        [2, 'field day (positions 2-9): not a valid date: "20260230"'],
        [3, 'field installment (positions 10-21): expected an integer from -2147483648 to 2147483647 (INTEGER), found "2147483648"'],
        [4, 'field amount (positions 22-41): expected an amount of at most 16 whole digits (DECIMAL(18,2)), found "1000000000000000000"'],
      ],
    );
  });
  it("keeps a sensitive column's value out of rejection messages, and its raw line in quarantine", async () => {
    const sensitive = schema.map((c) => ({ ...c, sensitive: c.name !== 'day' }));
    const text = [line('20261127', '12x', '100'), line('20261127', '3', '1000000000000000000'), line('2026X127', '3', '100')].join('\n');
    const hidden = await parseText(
      fixedWidthParser(
        layout,
        schema.map((c) => ({ ...c, sensitive: true })),
      ),
      [line('20261332', '3', '100'), line('2026X127', '3', '100')].join('\n'),
      'EDI.txt',
    );
    assert.deepEqual(
      hidden.rejects.map((r) => r.reason.replace(/^EDI.txt: line \d+: detail record, /, '')),
      [
        'field day (positions 2-9): not a valid date: a value withheld from messages (sensitive column)',
        'field day (positions 2-9): expected a date yyyyMMdd, found a value withheld from messages (sensitive column)',
      ],
    );
    const parsed = await parseText(fixedWidthParser(layout, sensitive), text, 'EDI.txt');
    assert.deepEqual(
      parsed.rejects.map((r) => r.reason.replace(/^EDI.txt: line \d+: detail record, /, '')),
      [
        'field installment (positions 10-21): expected an integer, found a value withheld from messages (sensitive column)',
        'field amount (positions 22-41): expected an amount of at most 16 whole digits (DECIMAL(18,2)), found a value withheld from messages (sensitive column)',
        'field day (positions 2-9): expected a date yyyyMMdd, found "2026X127"',
      ],
    );
    assert.deepEqual(
      parsed.rejects.map((r) => r.raw),
      text.split('\n'),
      'the quarantine keeps each line as it came',
    );
  });
});

describe('envelopes: gzip, zip, encodings', () => {
  it('reads every file of a zip as its own member, with lines counted per member', async () => {
    const archive = await zip([
      ['a.ndjson', Buffer.from('{"x":1}\n{"x":2}\n')],
      ['dir/', Buffer.alloc(0)],
      ['b.ndjson', Buffer.from('{"x":3}\nnot json\n')],
    ]);
    const { result, sinks } = await read(archive, 'DAILY.zip');
    assert.equal(result.integrityError, undefined);
    assert.deepEqual(result.members, ['DAILY.zip!a.ndjson', 'DAILY.zip!b.ndjson']);
    assert.deepEqual(sinks.get('DAILY.zip!b.ndjson')?.rows, [{ line: 1, values: { x: 3 } }]);
    assert.match(sinks.get('DAILY.zip!b.ndjson')?.rejects[0]?.reason ?? '', /DAILY\.zip!b\.ndjson: line 2/);
  });

  it('stops decompression bombs at the limits, for gzip and zip', async () => {
    const zeros = Buffer.alloc(20 * 2 ** 20);
    const gz = await read(gzipSync(zeros), 'BOMB.txt.gz');
    assert.match(
      gz.result.integrityError ?? '',
      /BOMB\.txt\.gz: decompresses to more than the limit of 10485760 bytes|expands more than 50×/,
    );
    const zb = await read(await zip([['zeros.txt', zeros]]), 'BOMB.zip');
    assert.match(zb.result.integrityError ?? '', /BOMB\.zip!zeros\.txt: declares/);
    const many = await read(
      await zip(Array.from({ length: 11 }, (_, i) => [`f${i}.ndjson`, Buffer.from('{}\n')] as [string, Buffer])),
      'MANY.zip',
    );
    assert.match(many.result.integrityError ?? '', /MANY\.zip: the archive holds 11 entries, above the limit of 10/);
    const noise = Array.from({ length: 2000 }, () => JSON.stringify({ x: randomBytes(16).toString('hex') })).join('\n');
    const whole = await zip([['a.ndjson', Buffer.from(noise)]]);
    const gzipped = gzipSync(Buffer.from('{"x":1}\n'.repeat(5000)));
    const cutGzip = await read(gzipped.subarray(0, Math.floor(gzipped.length / 2)), 'CUT.ndjson.gz');
    assert.match(cutGzip.result.integrityError ?? '', /CUT\.ndjson\.gz: not a valid gzip stream \(.*\); the file is corrupt or cut short/);
    const broken = await read(whole.subarray(0, Math.floor(whole.length / 2)), 'CUT.zip');
    assert.match(broken.result.integrityError ?? '', /CUT\.zip: not a readable zip archive/);
  });

  it('refuses a gzip bomb of one endless line by its expansion, before any parser limit speaks (default limits)', async () => {
    // 256 MiB of one CSV field without a line end: ~250 KB compressed, a thousandfold expansion. Judged against the
    // whole compressed size, the ratio would pass 100× only after 25 MB — past the CSV parser's record limit.
    const gzip = createGzip({ level: 9 });
    const parts: Buffer[] = [];
    gzip.on('data', (d: Buffer) => parts.push(d));
    const done = new Promise((r) => gzip.on('end', r));
    gzip.write('id,amount\n"');
    const mib = Buffer.alloc(2 ** 20, 'a');
    for (let i = 0; i < 256; i++) if (!gzip.write(mib)) await new Promise((r) => gzip.once('drain', r));
    gzip.end();
    await done;
    const line = Buffer.concat(parts);
    const csv: FileFormat = {
      format: 'csv',
      schema: [
        { name: 'id', type: 'VARCHAR' },
        { name: 'amount', type: 'VARCHAR' },
      ],
      limits: { maxBytes: 2 ** 30, maxRatio: 100, maxEntries: 1000 },
    };
    const { result } = await read(line, 'LINE.csv.gz', csv);
    assert.match(
      result.integrityError ?? '',
      /LINE\.csv\.gz: expands more than 100× \(\d+ bytes from the first \d+ of its \d+ compressed bytes\)/,
    );
    assert.doesNotMatch(result.integrityError ?? '', /quote never closed/);
  });

  it('decodes ISO-8859-1 and Windows-1252 exactly, and refuses text that is not the UTF-8 it claims to be', async () => {
    const fmt = (encoding: 'latin1' | 'windows-1252' | 'utf-8'): FileFormat => ({ ...ndjson, encoding });
    const latin = await read(Buffer.from('{"n":"Araújo São"}\n', 'latin1'), 'L.ndjson', fmt('latin1'));
    assert.deepEqual(latin.sinks.get('L.ndjson')?.rows[0]?.values, { n: 'Araújo São' });
    const cp = await read(
      Buffer.from([...Buffer.from('{"n":"'), 0x93, 0x41, 0x94, ...Buffer.from('"}\n')]),
      'W.ndjson',
      fmt('windows-1252'),
    );
    assert.deepEqual(cp.sinks.get('W.ndjson')?.rows[0]?.values, { n: '“A”' });
    const bad = await read(Buffer.from('{"n":"Araújo"}\n', 'latin1'), 'U.ndjson', fmt('utf-8'));
    assert.match(bad.result.integrityError ?? '', /U\.ndjson: not valid UTF-8 within bytes 0-14; .*set `encoding`/);
    const bom = await read(Buffer.from('\ufeff{"n":1}\r\n', 'utf8'), 'B.ndjson');
    assert.deepEqual(bom.sinks.get('B.ndjson')?.rows, [{ line: 1, values: { n: 1 } }]);
  });

  const zipBin = findBinary('zip');
  it('reads archives made by Info-ZIP `zip`', skipUnless(zipBin !== undefined, 'zip (Info-ZIP)', 'apt-get install zip'), async () => {
    const dir = tempDir('zip-cli-');
    writeFileSync(join(dir, 'r.csv'), 'case_id;amount\nA;1,50\n');
    execFileSync(zipBin as string, ['-q', '-9', 'r.zip', 'r.csv'], { cwd: dir });
    const { readFileSync } = await import('node:fs');
    const fmt: FileFormat = {
      format: 'csv',
      csv: csvOptionsSchema.parse({ delimiter: ';', decimalSeparator: ',' }),
      schema: [
        { name: 'case_id', type: 'VARCHAR' },
        { name: 'amount', type: 'DECIMAL(10,2)' },
      ],
      limits,
    };
    const { result, sinks } = await read(readFileSync(join(dir, 'r.zip')), 'r.zip', fmt);
    assert.equal(result.integrityError, undefined);
    assert.deepEqual(sinks.get('r.zip!r.csv')?.rows, [{ line: 2, values: { case_id: 'A', amount: '1.50' } }]);
  });
});
