// The first hour of a new user (issue 15): each stumble found trying finmesh as a newcomer, held by a test.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { cli, copyExample, EXAMPLE, ROOT, TEST_KEY, tempDir } from '../helpers.js';

const BIN = join(ROOT, 'bin/finmesh.js');
// One temporary folder for the file (each tempDir() adds an exit listener).
const work = tempDir('first-hour-');
const scratch = (prefix = 'x-') => mkdtempSync(join(work, prefix));

let demo = '';
let demoRun: ReturnType<typeof cli>;

before(() => {
  demo = join(scratch('demo-'), 'demo');
  // Piped, as in CI or `| tee`: no terminal.
  demoRun = cli(['demo', '--seconds', '8', '--dir', demo, '--port', '0']);
  assert.equal(demoRun.status, 0, demoRun.stderr);
});

const json = <T>(r: ReturnType<typeof cli>): T => JSON.parse(r.stdout) as T;

/** A starter project that has run once: generated changes streamed to bronze. */
function starter(): string {
  const dir = join(scratch('starter-'), 'p');
  assert.equal(cli(['init', dir]).status, 0);
  assert.equal(cli(['generate', '--project', dir, '--seconds', '2', '--start', '2026-11-27T12:00:00Z']).status, 0);
  return dir;
}

describe('1. the demo summary', () => {
  it('prints events/s and latency percentiles in text, and says bronze holds change events, not transactions', () => {
    assert.match(demoRun.stdout, /[\d,]+ events\/s/);
    assert.match(demoRun.stdout, /event → bronze p50 [\d.]+ s, p99 [\d.]+ s; event → gold p50/);
    assert.match(demoRun.stdout, /[\d,]+ change events in bronze \(every insert and status change\) · [\d,]+ transactions in silver/);
    assert.doesNotMatch(demoRun.stdout, /transactions: bronze/);
  });
});

describe('1b. after a demo, its commands work from the same folder', () => {
  it('uses the demo workspace when . holds no project, says so on stderr, and still refuses a folder with neither', () => {
    const here = scratch('here-');
    symlinkSync(demo, join(here, '.finmesh-demo'));
    const viaDemo = cli(['catalog', '--json'], { cwd: here });
    assert.equal(viaDemo.status, 0, viaDemo.stderr);
    const names = (r: ReturnType<typeof cli>) => json<{ products: { product: string }[] }>(r).products.map((p) => p.product);
    assert.ok(names(viaDemo).length > 0);
    assert.deepEqual(names(viaDemo), names(cli(['catalog', '--json', '--project', demo])));
    assert.match(viaDemo.stderr, /using the demo's workspace \.finmesh-demo/);
    const nothing = cli(['catalog'], { cwd: scratch('empty-') });
    assert.equal(nothing.status, 2);
    assert.match(nothing.stderr, /no finmesh\.yaml in \./);
  });
});

describe('2. every dataset the demo lists is queryable', () => {
  it('partners_landing.* lists the files as received; the summary shows landing as files, not 0 rows', () => {
    const landing = demoRun.stdout.split('\n').filter((l) => /^partners_landing\./.test(l));
    assert.ok(landing.length >= 2, demoRun.stdout);
    for (const l of landing) assert.match(l, /landing\s+–\s+\d+$/);
    for (const name of ['settlements', 'chargebacks']) {
      const r = cli(['query', `select file, bytes, sha256_prefix from partners_landing.${name}`, '--project', demo, '--json']);
      assert.equal(r.status, 0, r.stderr);
      const rows = json<{ file: string; bytes: number }[]>(r);
      assert.ok(rows.length >= 1 && rows.every((x) => x.bytes > 0 && !x.file.includes('/')), r.stdout);
    }
  });
});

describe('3. lineage', () => {
  it('--downstream shows the impact in text, and the target’s own consumers are part of it', () => {
    const t = cli(['lineage', 'payments_gold.daily_volume_by_method', '--downstream', '--project', demo]);
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /impact: 1 product, 2 consumers/);
    assert.match(
      t.stdout,
      /payments\.daily_volume_by_method\s+ana\.souza@fintech\.example\s+powerbi-payments-dashboard, finance-analytics/,
    );
    const j = cli(['lineage', 'payments_gold.daily_volume_by_method', '--downstream', '--json', '--project', demo]);
    const { impact } = json<{ impact: { consumers: string[] } }>(j);
    assert.deepEqual(impact.consumers, ['finance-analytics', 'powerbi-payments-dashboard']);
  });

  it('`lineage export | head -1` stops quietly when the reader goes away', () => {
    const r = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${BIN}" lineage export --project "${demo}" | head -1`], {
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(JSON.parse(r.stdout).eventType);
  });
});

describe('4. jobs and runs', () => {
  it('runs and lineage name a model the same way, and `runs --job` takes either spelling', () => {
    const events = cli(['lineage', 'export', '--project', demo]).stdout.trim().split('\n');
    assert.ok(events.some((e) => JSON.parse(e).job.name === 'model:payments.transactions'));
    for (const job of ['model:payments.transactions', 'model:transactions']) {
      const r = cli(['runs', '--job', job, '--json', '--project', demo]);
      assert.equal(r.status, 0, r.stderr);
      const { jobs } = json<{ jobs: { job: string; runs: unknown[] }[] }>(r);
      assert.equal(jobs.length, 1);
      assert.equal(jobs[0]?.job, 'model:payments.transactions');
      assert.ok((jobs[0]?.runs.length ?? 0) > 0);
    }
    const unknown = cli(['runs', '--job', 'model:nosuch', '--project', demo]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /no product "nosuch"/);
  });

  it('a typo in `finmesh run` is a usage error, not a failed pipeline run', () => {
    const before = json<{ jobs: unknown[] }>(cli(['runs', '--json', '--project', demo])).jobs;
    const r = cli(['run', 'nosuch', '--project', demo]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no model matches "nosuch"/);
    const after = json<{ jobs: { job: string }[] }>(cli(['runs', '--json', '--project', demo])).jobs;
    assert.deepEqual(after, before, 'no run recorded');
  });

  it('a run that succeeded carries no error, even when a warning-level check failed', () => {
    const { jobs } = json<{ jobs: { job: string; runs: { status: string; error?: string }[] }[] }>(
      cli(['runs', '--json', '--project', demo]),
    );
    const withError = jobs.flatMap((j) => j.runs.filter((r) => r.status === 'succeeded' && r.error).map((r) => `${j.job}: ${r.error}`));
    assert.deepEqual(withError, []);
  });
});

describe('5. stream names the model that failed, and why; runs shows the whole error', () => {
  it('reports the failed model with its error, and `runs` does not cut it', () => {
    const dir = starter();
    const model = join(dir, 'domains/payments/products/daily_volume/model.sql');
    writeFileSync(model, readFileSync(model, 'utf8').replace(/\bamount\b/, 'amount_that_does_not_exist'));
    const r = cli(['stream', '--project', dir, '--until-caught-up']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /models: \d+ ran, 1 failed/);
    const failed = /failed daily_volume \(run [0-9a-f-]+\): (.+)/.exec(r.stdout);
    assert.ok(failed, r.stdout);
    assert.match(failed[1] ?? '', /amount_that_does_not_exist/);
    const runs = cli(['runs', '--job', 'model:daily_volume', '--project', dir]);
    assert.ok(runs.stdout.includes(failed[1] ?? '!'), `the whole error in:\n${runs.stdout}`);
    assert.ok((failed[1] ?? '').length > 80);
    const stream = json<{ jobs: { runs: { error?: string }[] }[] }>(cli(['runs', '--job', 'stream', '--json', '--project', dir]));
    assert.match(stream.jobs[0]?.runs[0]?.error ?? '', /daily_volume \(.*amount_that_does_not_exist/);
  });
});

describe('6. validate', () => {
  it('prints its verdict on stdout, and reports a bad ref() in the same run as a contract error', () => {
    const ok = cli(['validate', '--project', EXAMPLE]);
    assert.equal(ok.status, 0);
    assert.match(ok.stdout, /valid — 5 domains, 5 sources, 11 products/);
    const dir = join(scratch(), 'p');
    assert.equal(cli(['init', dir]).status, 0);
    const product = join(dir, 'domains/payments/products/daily_volume');
    const contract = join(product, 'contract.odcs.yaml');
    writeFileSync(contract, readFileSync(contract, 'utf8').replace(/classification: \w+/, 'classification: secretish'));
    writeFileSync(join(product, 'model.sql'), `select * from ref('no_such_product')\n`);
    const r = cli(['validate', '--project', dir]);
    assert.equal(r.status, 2);
    assert.match(r.stdout, /contract\.odcs\.yaml: schema\[0\]\.properties\[\d+\]\.classification/);
    assert.match(r.stdout, /model\.sql: line 1: ref\('no_such_product'\): expected a product of the project/);
  });
});

describe('7. query names the statement that is not a SELECT', () => {
  it('says which statement of several is refused', () => {
    const r = cli(['query', 'with x as (select 1) select * from x; create table t(a int)', '--project', demo]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /statement 2 of 2 is CREATE/);
    assert.doesNotMatch(r.stderr, /found WITH/);
  });
});

describe('8. slo right after a demo', () => {
  it('exits 0, and explains every SLO without data', () => {
    const r = cli(['slo', '--project', demo]);
    assert.equal(r.status, 0, r.stdout);
    assert.doesNotMatch(r.stdout, /-\d{2,}(\.\d)?%/, 'no budget far below zero');
    assert.match(r.stdout, /completeness: counted per whole UTC day/);
    assert.match(r.stdout, /api-availability: measured by Prometheus/);
    const { slos } = json<{ slos: { sli: string; sliValue: number | null; note?: string }[] }>(cli(['slo', '--json', '--project', demo]));
    assert.deepEqual(
      slos.filter((s) => s.sliValue === null && !s.note),
      [],
    );
  });
});

describe('9. policy check names the source', () => {
  it('reports a domain without on-call once, naming its sources', () => {
    const dir = copyExample();
    const domain = join(dir, 'domains/partners/domain.yaml');
    writeFileSync(domain, readFileSync(domain, 'utf8').replace(/^onCall:.*\n/m, ''));
    const r = cli(['policy', 'check', '--project', dir]);
    assert.equal(r.status, 1);
    const lines = r.stdout.split('\n').filter((l) => l.includes('source-has-alert'));
    assert.equal(lines.length, 1, r.stdout);
    assert.match(
      lines[0] ?? '',
      /domains\/partners\/domain\.yaml: onCall: .*sources acquirer-(settlements|chargebacks), acquirer-(settlements|chargebacks)/,
    );
  });
});

describe('10. gaps and contract versions gate CI', () => {
  it('gaps exits 1 when it finds gaps', () => {
    const r = cli(['gaps', '--project', EXAMPLE]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /no-on-call\s+risk\.fraud_signals/);
  });

  it('contract diff says a breaking change needs a major version', () => {
    const dir = scratch();
    const original = join(EXAMPLE, 'domains/payments/products/merchants/contract.odcs.yaml');
    const text = readFileSync(original, 'utf8');
    assert.match(text, /^version: 1\.0\.0$/m);
    const minor = join(dir, 'minor.yaml');
    writeFileSync(minor, text.replace(/^version: 1\.0\.0$/m, 'version: 1.1.0').replace(/ {6}- \{ name: trade_name.*\n/, ''));
    const r = cli(['contract', 'diff', original, minor]);
    assert.equal(r.status, 1);
    assert.match(r.stdout, /version 1\.0\.0 → 1\.1\.0: a breaking change needs a new major version \(2\.0\.0\)/);
    const major = join(dir, 'major.yaml');
    writeFileSync(major, readFileSync(minor, 'utf8').replace('version: 1.1.0', 'version: 2.0.0'));
    const { version } = json<{ version: { ok: boolean; bump: string } }>(cli(['contract', 'diff', original, major, '--json']));
    assert.deepEqual([version.ok, version.bump], [true, 'major']);
  });
});

describe('read commands on a project that never ran leave no state behind', () => {
  it('catalog, gaps, policy check and contract history create no metadata store and no lake', () => {
    const dir = copyExample();
    for (const args of [
      ['catalog'],
      ['catalog', 'payments.transactions'],
      ['gaps'],
      ['policy', 'check'],
      ['contract', 'history', 'payments.transactions'],
    ]) {
      const r = cli([...args, '--project', dir]);
      assert.ok(r.status === 0 || r.status === 1, `${args.join(' ')}: ${r.stderr}`);
    }
    const catalog = JSON.parse(cli(['catalog', '--json', '--project', dir]).stdout) as { products: { product: string }[] };
    assert.ok(
      catalog.products.some((p) => p.product === 'payments.transactions'),
      'the catalog lists the products all the same',
    );
    // A store left behind would be read as the project's state (gaps would then report checks that never ran).
    assert.ok(!existsSync(join(dir, '.finmesh/metadata.db')), 'a metadata store was created by a read command');
    assert.ok(!existsSync(join(dir, '.finmesh/lake')), 'a lake folder was created by a read command');
  });
});

describe('11. contract diff reads any valid ODCS contract', () => {
  it('diffs a contract with several schema objects, object by object', () => {
    const dir = scratch();
    const contract = (extraColumn: string) => `apiVersion: v3.1.0
kind: DataContract
id: orders
version: 1.0.0
status: active
schema:
  - name: orders
    properties:
      - { name: order_id, logicalType: string, required: true }
      - { name: amount, logicalType: number }
  - name: order_lines
    properties:
      - { name: order_id, logicalType: string }
${extraColumn}`;
    const a = join(dir, 'a.yaml');
    const b = join(dir, 'b.yaml');
    writeFileSync(a, contract('      - { name: sku, logicalType: string }\n'));
    writeFileSync(b, contract(''));
    const r = cli(['contract', 'diff', a, b, '--json']);
    assert.equal(r.status, 1, r.stderr);
    const { changes } = json<{ changes: { object: string; kind: string; column: string; breaking: boolean }[] }>(r);
    assert.deepEqual(changes, [
      { object: 'order_lines', kind: 'column-removed', column: 'sku', breaking: true, detail: 'column order_lines.sku was removed' },
    ]);
    const invalid = join(dir, 'invalid.yaml');
    writeFileSync(invalid, contract('').replace('kind: DataContract', 'kind: Contract'));
    const bad = cli(['contract', 'diff', a, invalid]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /invalid\.yaml is not a valid ODCS v3\.1 contract/);
  });
});

describe('12. usage errors say what is wrong, with the documented exit codes', () => {
  it('generate --start bogus exits 2 naming the option and what it expects', () => {
    const r = cli(['generate', '--start', 'bogus', '--project', EXAMPLE]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--start <iso>.*'bogus' is invalid\. expected an ISO date-time/);
  });

  it('no command sets a literal exit code (they come from the EXIT table)', () => {
    const dir = join(ROOT, 'src/cli');
    const literal = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .flatMap((e) => {
        const text = readFileSync(join(e.parentPath, e.name), 'utf8');
        return [...text.matchAll(/process\.exit(Code\s*=\s*\d|\(\s*\d)/g)].map((m) => `${e.name}: ${m[0]}`);
      });
    assert.deepEqual(literal, []);
  });
});

describe('13. serve says what it is', () => {
  it('an OpenLineage endpoint, not a Marquez server whose web UI would find no namespaces, jobs or datasets', () => {
    const r = cli(['serve', '--help']);
    assert.equal(r.status, 0);
    assert.doesNotMatch(r.stdout, /marquez/i);
    assert.match(r.stdout, /OpenLineage HTTP endpoint/);
  });
});

describe('14. people see progress and sentences', () => {
  it('a piped demo shows progress on stderr as it goes', () => {
    assert.match(demoRun.stderr, /^demo: \d+\/8 s · [\d,]+ changes to bronze/m);
  });

  it('stream at a terminal speaks in sentences, not JSON log lines', {
    skip: !existsSync('/usr/bin/script') && 'no `script` (util-linux) for a terminal',
  }, () => {
    const dir = starter();
    const r = spawnSync('script', ['-qec', `"${process.execPath}" "${BIN}" stream --until-caught-up --project "${dir}"`, '/dev/null'], {
      encoding: 'utf8',
      env: { ...process.env, FINMESH_TOKENIZATION_KEY: TEST_KEY, NO_COLOR: '1' },
    });
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /streaming app-transactions into bronze until caught up/);
    assert.doesNotMatch(r.stdout, /\{"time":/);
  });

  it('catalog <product> shows one product in full; an unknown one is a usage error', () => {
    const r = cli(['catalog', 'payments.transactions', '--project', demo]);
    assert.equal(r.status, 0, r.stderr);
    for (const re of [
      /^owner:\s+ana\.souza@fintech\.example/m,
      /^consumers:\s+finance-analytics, risk-analytics/m,
      /card_pan_masked\s+VARCHAR\s+pci/,
      /^downstream:.*payments_gold\.daily_volume_by_method/m,
    ])
      assert.match(r.stdout, re);
    const list = cli(['catalog', '--project', demo]).stdout.split('\n')[0] ?? '';
    assert.deepEqual(list.trim().split(/\s{2,}/), ['product', 'zone', 'owner', 'freshness', 'quality', 'description']);
    const missing = cli(['catalog', 'nosuch', '--project', demo]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /no product "nosuch"/);
  });

  it('tables align numbers with thousands separators; colour only when asked (FORCE_COLOR) and never with NO_COLOR', () => {
    const r = cli(['runs', '--project', demo]);
    const ESC = String.fromCharCode(27);
    assert.ok(!r.stdout.includes(`${ESC}[`), 'no colour into a pipe');
    const rows = r.stdout.split('\n');
    const header = rows[0] ?? '';
    const end = header.indexOf('runs') + 'runs'.length;
    for (const row of rows.slice(2).filter(Boolean)) assert.match(row.slice(0, end), /\d$/, `runs right-aligned: ${row}`);
    assert.ok(cli(['runs', '--project', demo], { env: { FORCE_COLOR: '1' } }).stdout.includes(`${ESC}[1m`), 'bold header');
    assert.ok(!cli(['runs', '--project', demo], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } }).stdout.includes(`${ESC}[`), 'NO_COLOR wins');
  });
});

describe('every command', () => {
  const commands = [
    ['demo'],
    ['init'],
    ['validate'],
    ['generate'],
    ['stream'],
    ['ingest'],
    ['run'],
    ['runs'],
    ['query'],
    ['test'],
    ['catalog'],
    ['policy', 'check'],
    ['gaps'],
    ['contract', 'diff'],
    ['odps'],
    ['lineage'],
    ['slo'],
    ['alerts'],
    ['diagram'],
    ['serve'],
    ['lake', 'gc'],
    ['completion'],
    ['access', 'matrix'],
    ['access', 'explain'],
    ['access', 'terraform'],
    ['audit', 'verify'],
    ['audit', 'list'],
    ['audit', 'export'],
  ];

  it('has --help with an example', () => {
    for (const c of commands) {
      const r = cli([...c, '--help']);
      assert.equal(r.status, 0, c.join(' '));
      assert.match(r.stdout, /\nExamples:\n {2}\$ finmesh /, `finmesh ${c.join(' ')} --help`);
    }
  });

  it('completion bash completes commands, subcommands and options', () => {
    const script = cli(['completion', 'bash']).stdout;
    const complete = (words: string[]) =>
      spawnSync(
        'bash',
        [
          '-c',
          `${script}\nCOMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _finmesh; echo "\${COMPREPLY[*]}"`,
        ],
        { encoding: 'utf8' },
      ).stdout.trim();
    assert.match(complete(['finmesh', 'li']), /^lineage$/);
    assert.equal(complete(['finmesh', 'lake', '']).split(' ').includes('gc'), true);
    assert.match(complete(['finmesh', 'query', '--j']), /^--json$/);
    const zsh = cli(['completion', 'zsh']);
    assert.match(zsh.stdout, /^#compdef finmesh/);
    assert.equal(cli(['completion', 'fish']).status, 2);
  });
});

describe('16. a CLI that starts fast', () => {
  const logs = scratch('modules-');
  let n = 0;
  const log = () => join(logs, `loaded-${++n}.txt`);
  const hook = join(ROOT, 'test/cli/fixtures/log-modules.mjs');
  const loaded = (args: string[]) => {
    const file = log();
    const r = cli(args, { env: { NODE_OPTIONS: `--import ${hook}`, FINMESH_MODULE_LOG: file } });
    assert.equal(r.status, 0, r.stderr);
    return existsSync(file) ? readFileSync(file, 'utf8') : '';
  };

  it('`--help` loads no engine, server, SDK, YAML or schema library', () => {
    const mods = loaded(['--help']);
    for (const heavy of [
      '@duckdb',
      'fastify',
      'openpgp',
      'kafkajs',
      '@azure',
      '@google-cloud',
      'ssh2',
      'yaml',
      'zod',
      'ajv',
      'prom-client',
      'pino',
      'better-sqlite3',
    ])
      assert.ok(!mods.includes(`/node_modules/${heavy}`), `--help loaded ${heavy}`);
  });

  it('`query` on a project that did not change loads DuckDB but no server, SDK, YAML parser, schema validator or logger', () => {
    loaded(['query', 'select 1', '--project', demo]); // the first start after a change caches the validated project
    const mods = loaded(['query', 'select 1', '--project', demo]);
    assert.ok(mods.includes('/node_modules/@duckdb/'));
    for (const heavy of ['fastify', 'openpgp', 'kafkajs', '@azure', '@google-cloud', 'ssh2', 'yaml', 'zod', 'ajv', 'prom-client', 'pino'])
      assert.ok(!mods.includes(`/node_modules/${heavy}`), `query loaded ${heavy}`);
    // DuckDB's glibc binary is loaded directly (its package's loader asks detect-libc, which builds a diagnostic report).
    if (process.platform === 'linux' && existsSync(join(ROOT, `node_modules/@duckdb/node-bindings-linux-${process.arch}`)))
      assert.ok(!mods.includes('/node_modules/detect-libc'), 'query asked detect-libc for the C library');
  });

  it('runs the compiled JavaScript when the build is current, and a changed project is read again', () => {
    const built = join(ROOT, 'dist/.built');
    const stale =
      !existsSync(built) ||
      readdirSync(join(ROOT, 'src'), { recursive: true, withFileTypes: true }).some(
        (e) => e.isFile() && !e.name.endsWith('.md') && statSync(join(e.parentPath, e.name)).mtimeMs > statSync(built).mtimeMs,
      );
    const mods = loaded(['--help']);
    if (stale) assert.ok(mods.includes('/src/cli/main.ts'), 'src/ changed since the build: the sources run');
    else {
      // The build's bundle of the CLI, not dist/'s modules one by one (nor the sources).
      assert.ok(mods.includes('/dist/cli/bundle/finmesh.cjs') && !mods.includes('/src/cli/main.ts'), 'the build runs');
      assert.ok(
        !mods.includes('/dist/cli/main.js') && !mods.includes('/dist/cli/commands/'),
        'the bundle runs, not dist/ module by module',
      );
    }
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      files: string[];
      dependencies: Record<string, string>;
    };
    assert.ok(pkg.scripts.prepare && pkg.scripts.prepack && pkg.files.includes('dist') && !pkg.dependencies.tsx);
    // The cache follows the project: a product removed is gone at the next start.
    const dir = copyExample();
    assert.equal(cli(['catalog', '--json', '--project', dir]).status, 0);
    rmSync(join(dir, 'domains/risk/products/fraud_signals'), { recursive: true }); // the domain stays: access.yaml grants on it
    const after = json<{ products: { product: string }[] }>(cli(['catalog', '--json', '--project', dir]));
    assert.ok(!after.products.some((p) => p.product === 'risk.fraud_signals'));
  });
});
