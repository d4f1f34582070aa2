// `finmesh validate` is the gate before anything runs: configuration errors that used to pass it and then broke (or
// silently bent) a run are rejected here, each with its file, its path and what was expected and found.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, copyExample } from '../helpers.js';

interface Issue {
  file: string;
  path: string;
  expected: string;
  found: string;
}

function validate(
  dir: string,
  env: NodeJS.ProcessEnv = {},
  args: string[] = [],
): { status: number | null; issues: Issue[]; stderr: string } {
  const r = cli(['validate', '--project', dir, '--json', ...args], { env });
  return { status: r.status, issues: r.stdout ? (JSON.parse(r.stdout).issues as Issue[]) : [], stderr: r.stderr };
}

function edit(dir: string, file: string, from: string | RegExp, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, 'utf8');
  const next = text.replace(from, to);
  assert.notEqual(next, text, `${file}: nothing replaced`);
  writeFileSync(path, next);
}

const SOURCE = 'domains/payments/sources/core-transactions.yaml';
const MERCHANTS = 'domains/payments/products/merchants/contract.odcs.yaml';
const TRANSACTIONS = 'domains/payments/products/transactions/contract.odcs.yaml';

describe('finmesh validate rejects', () => {
  it('a source schema naming a column twice, and a key or version that is not a column of it', () => {
    const dir = copyExample();
    edit(
      dir,
      SOURCE,
      '  - { name: currency, type: VARCHAR, classification: public }\n',
      '  - { name: currency, type: VARCHAR, classification: public }\n  - { name: currency, type: VARCHAR, classification: public }\n',
    );
    edit(dir, SOURCE, 'version: version', 'version: revision');
    const { status, issues } = validate(dir);
    assert.equal(status, 2);
    assert.deepEqual(
      issues.map((i) => [i.file, i.path, i.expected, i.found]),
      [
        [SOURCE, 'schema[6].name', 'a column name used once', '"currency", already at schema[5].name'],
        [SOURCE, 'version', issues[1]?.expected, '"revision"'],
      ],
    );
    assert.match(issues[1]?.expected ?? '', /^a column of the schema \(id, pk, type, /);
  });

  it('a contract promising a type the model does not produce, and a uniqueKey the model does not produce — and run refuses to write it', () => {
    const dir = copyExample();
    edit(
      dir,
      MERCHANTS,
      '{ name: legal_name, logicalType: string, physicalType: VARCHAR',
      '{ name: legal_name, logicalType: date, physicalType: DATE',
    );
    edit(dir, TRANSACTIONS, '{ property: uniqueKey, value: transaction_id }', '{ property: uniqueKey, value: txn_id }');
    const { status, issues } = validate(dir);
    assert.equal(status, 2);
    const type = issues.find((i) => i.file === MERCHANTS);
    assert.deepEqual(type, {
      file: MERCHANTS,
      path: 'schema[0].properties[2].physicalType',
      expected: 'legal_name as DATE, as the contract promises',
      found: 'the model produces VARCHAR (domains/payments/products/merchants/model.sql)',
    });
    const key = issues.find((i) => i.file === TRANSACTIONS);
    assert.equal(key?.path, 'customProperties[2].value');
    assert.match(key?.expected ?? '', /^uniqueKey naming columns the model produces \(transaction_id, /);
    assert.equal(key?.found, '"txn_id"');
    assert.equal(issues.length, 2, JSON.stringify(issues));
    // A project that skipped validate: the model fails before writing, and says why.
    const run = cli(['run', 'merchants', '--project', dir, '--json']);
    assert.equal(run.status, 1, run.stderr);
    const merchants = (JSON.parse(run.stdout).models as { model: string; status: string; error?: string }[]).find(
      (m) => m.model === 'merchants',
    );
    assert.equal(merchants?.status, 'failed');
    assert.match(
      merchants?.error ?? '',
      /contract: .*merchants\/contract\.odcs\.yaml: schema\[0\]\.properties\[2\]\.physicalType: expected legal_name as DATE.*nothing was written/,
    );
  });

  it('a secret reference that does not resolve here, naming the file and field but never a value (--no-secrets skips the check)', () => {
    const dir = copyExample();
    const { status, issues } = validate(dir, { ACQUIRER_SFTP_PASSWORD: '' });
    assert.equal(status, 2);
    assert.deepEqual(
      issues.map((i) => [i.file, i.path, i.found]),
      [
        ['domains/partners/sources/acquirer-chargebacks.yaml', 'password', 'the environment variable ACQUIRER_SFTP_PASSWORD is not set'],
        ['domains/partners/sources/acquirer-settlements.yaml', 'password', 'the environment variable ACQUIRER_SFTP_PASSWORD is not set'],
      ],
    );
    edit(dir, 'finmesh.yaml', 'key: env:FINMESH_TOKENIZATION_KEY', 'key: file:.secrets/missing.key');
    const file = validate(dir);
    assert.deepEqual(
      file.issues.map((i) => [i.file, i.path, i.found]),
      [['finmesh.yaml', 'tokenization.key', 'the file of "file:.secrets/missing.key" cannot be read (ENOENT)']],
    );
    assert.equal(validate(dir, { ACQUIRER_SFTP_PASSWORD: '' }, ['--no-secrets']).status, 0);
  });

  it('a YAML alias bomb, with its file and without a stack trace', () => {
    const dir = copyExample();
    const bomb = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const next = String.fromCharCode(97 + i);
      bomb.push(`${next}: &${next} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    writeFileSync(join(dir, 'domains/risk/domain.yaml'), `${bomb.join('\n')}\n`);
    const r = cli(['validate', '--project', dir]);
    assert.equal(r.status, 2);
    // The report is validate's result: on stdout (messages and errors would be on stderr).
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /domains\/risk\/domain\.yaml: expected YAML whose aliases expand to a reasonable size, found aliases that expand without bound/,
    );
    assert.doesNotMatch(out, /unexpected error|\n\s+at /);
  });

  it('a binary file read as YAML, quoting none of its bytes', () => {
    const dir = copyExample();
    const bytes = Buffer.alloc(1536);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 131 + 7) % 256;
    writeFileSync(join(dir, 'domains/payments/sources/binary.yaml'), bytes);
    const utf8ish = Buffer.from(`name: ${'\u0007'.repeat(3)}${'x'.repeat(1500)}`);
    writeFileSync(join(dir, 'domains/finance/domain.yaml'), utf8ish);
    const r = cli(['validate', '--project', dir]);
    assert.equal(r.status, 2);
    // The report is validate's result: on stdout (messages and errors would be on stderr).
    const out = r.stdout + r.stderr;
    assert.match(
      out,
      /domains\/payments\/sources\/binary\.yaml: expected a YAML text file \(UTF-8\), found binary data \(a NUL byte at offset \d+ of 1536\)/,
    );
    assert.match(out, /domains\/finance\/domain\.yaml: .*… \(1503 characters\)/);
    assert.ok(out.length < 2000, `the message stays short (${out.length} characters)`);
    assert.ok(!out.includes('\u0007'), 'no raw control character');
  });
  it('a Cosmos DB source whose account key is given as `key`: `key` is the business key, the account key is accountKey', () => {
    const dir = copyExample();
    const cosmos =
      'kind: cosmos\nendpoint: https://fintech.documents.azure.com:443/\naccountKey: env:COSMOS_KEY\ndatabase: app\ncontainer: transactions\n';
    edit(dir, SOURCE, 'kind: sqlite-outbox\n', cosmos);
    edit(dir, SOURCE, 'database: .finmesh/app.db\naggregate: transactions\n', '');
    const ok = validate(dir, {}, ['--no-secrets']);
    assert.deepEqual(
      ok.issues.filter((i) => i.file === SOURCE),
      [],
      'a Cosmos DB source with its business key and its account key validates',
    );
    edit(dir, SOURCE, 'accountKey: env:COSMOS_KEY', 'key: env:COSMOS_KEY');
    edit(dir, SOURCE, 'key: [id]\n', '');
    const { status, issues } = validate(dir, {}, ['--no-secrets']);
    assert.equal(status, 2);
    assert.deepEqual(
      issues.filter((i) => i.file === SOURCE).map((i) => [i.path, i.found]),
      [
        ['key', '"env:COSMOS_KEY"'],
        ['accountKey', 'nothing'],
      ],
    );
  });

  it('an SFTP source whose transfer is not auto, ssh2 or openssh, and transfer: openssh on a source with only a password', () => {
    const dir = copyExample();
    const SETTLEMENTS = 'domains/partners/sources/acquirer-settlements.yaml';
    edit(dir, SETTLEMENTS, 'password: env:ACQUIRER_SFTP_PASSWORD\n', 'password: env:ACQUIRER_SFTP_PASSWORD\ntransfer: scp\n');
    const bad = validate(dir, {}, ['--no-secrets']);
    assert.equal(bad.status, 2);
    assert.deepEqual(
      bad.issues.filter((i) => i.file === SETTLEMENTS).map((i) => [i.path, i.found]),
      [['transfer', '"scp"']],
    );
    assert.match(bad.issues.find((i) => i.file === SETTLEMENTS)?.expected ?? '', /auto.*ssh2.*openssh/);
    edit(dir, SETTLEMENTS, 'transfer: scp', 'transfer: openssh');
    const { status, issues } = validate(dir, {}, ['--no-secrets']);
    assert.equal(status, 2);
    const issue = issues.find((i) => i.file === SETTLEMENTS);
    assert.equal(issue?.path, 'transfer');
    assert.match(issue?.expected ?? '', /privateKey with transfer: openssh/);
    edit(dir, SETTLEMENTS, 'transfer: openssh', 'transfer: ssh2');
    assert.deepEqual(
      validate(dir, {}, ['--no-secrets']).issues.filter((i) => i.file === SETTLEMENTS),
      [],
      'transfer: ssh2 with a password validates',
    );
  });
});
