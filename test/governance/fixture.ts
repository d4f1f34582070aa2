import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { chargebackReport, dropPartnerFiles, type SettledSale, sealForFintech, zipOne } from '../../src/demo/simulator/partner-files.js';
import { layoutDemoWorkspace } from '../../src/demo/workspace.js';
import { cli, cliAsync, tempDir, waitFor } from '../helpers.js';
import { freePort } from '../launchers.js';

/** The example's personas, each with the environment variable its API token is read from. */
export const PERSONA_TOKENS: Record<string, string> = {
  'platform-engineer': 'FINMESH_TOKEN_PLATFORM',
  'payments-engineer': 'FINMESH_TOKEN_PAYMENTS_ENGINEER',
  'payments-analyst': 'FINMESH_TOKEN_PAYMENTS_ANALYST',
  'risk-analyst': 'FINMESH_TOKEN_RISK_ANALYST',
  auditor: 'FINMESH_TOKEN_AUDITOR',
  'partner-operator': 'FINMESH_TOKEN_PARTNER_OPERATOR',
  'bi-service': 'FINMESH_TOKEN_POWERBI',
  'lineage-publisher': 'FINMESH_TOKEN_LINEAGE',
};

/** A token value per persona (what a user would put in a secret store), and the environment that holds them. */
export const TOKENS = Object.fromEntries(Object.keys(PERSONA_TOKENS).map((p) => [p, `fm_${p.replaceAll('-', '_')}_${'x'.repeat(24)}`]));
export const TOKEN_ENV = Object.fromEntries(Object.entries(PERSONA_TOKENS).map(([p, env]) => [env, TOKENS[p] as string]));

/**
 * A demo workspace of the example (embedded partner SFTP, a tokenisation key) that has run: app changes streamed to
 * bronze, an acquirer settlement file of every card network ingested, and every model built.
 */
export async function ranGovernedProject(): Promise<string> {
  const dir = await layoutDemoWorkspace(join(tempDir(), 'fintech'));
  // The chargeback report disputes sales 1 and 4: an ELO one (the partner operator's) and a VISA one (not).
  const brands = ['VISA', 'ELO', 'MASTERCARD', 'HIPERCARD'];
  const sales: SettledSale[] = Array.from({ length: 40 }, (_, i) => ({
    transactionDate: '2026-11-26',
    merchantId: `M${String(i % 7).padStart(5, '0')}`,
    nsu: String(100000 + i),
    authCode: String(200000 + i),
    brand: brands[i % brands.length] as string,
    amount: 10 + i,
    merchantName: `Loja ${i % 7}`,
  }));
  const folder = join(dir, '.finmesh/partner-sftp/outbound/settlements');
  const old = new Date(Date.now() - 3_600_000);
  for (const name of dropPartnerFiles(folder, sales, { seed: 7, fileDate: '2026-11-27', sequence: 1 }))
    utimesSync(join(folder, name), old, old);
  // A chargeback report, zipped, encrypted to the fintech's key and signed by the acquirer's, as the demo's acquirer sends it.
  const secret = (name: string) => readFileSync(join(dir, '.finmesh/secrets', name), 'utf8');
  const disputes = join(dir, '.finmesh/partner-sftp/outbound/chargebacks');
  const report = chargebackReport(sales, { seed: 7, fileDate: '2026-11-27' }).csv;
  const sealed = await sealForFintech(await zipOne('CHARGEBACKS_20261127.csv', report), {
    fintechPublicKey: secret('fintech-pgp.pub'),
    signingKey: secret('acquirer-pgp.key'),
  });
  writeFileSync(join(disputes, 'CHARGEBACKS_20261127.zip.pgp'), sealed);
  utimesSync(join(disputes, 'CHARGEBACKS_20261127.zip.pgp'), old, old);
  const g = cli(['generate', '--project', dir, '--seconds', '2', '--rate', '100']);
  assert.equal(g.status, 0, g.stderr);
  const i = cli(['ingest', '--project', dir]);
  assert.equal(i.status, 0, i.stderr);
  const s = cli(['stream', '--project', dir, '--until-caught-up']);
  assert.equal(s.status, 0, s.stderr);
  return dir;
}

/** A running `finmesh serve` with the SQL endpoint on TLS (a self-signed certificate), the tokens in its environment. */
export interface Served {
  url: string;
  pgPort: number;
  stop(): Promise<void>;
}

export async function serveWithSql(dir: string): Promise<Served> {
  const secrets = join(dir, '.finmesh/secrets');
  const made = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=localhost',
      '-keyout',
      join(secrets, 'sql.key'),
      '-out',
      join(secrets, 'sql.crt'),
    ],
    { encoding: 'utf8' },
  );
  assert.equal(made.status, 0, made.stderr);
  const file = join(dir, 'finmesh.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  doc.setIn(['server', 'sql', 'tls'], { cert: 'file:.finmesh/secrets/sql.crt', key: 'file:.finmesh/secrets/sql.key' });
  writeFileSync(file, doc.toString());
  // A free port may be taken by another test between our check and the server's listen: then start again on others.
  for (let attempt = 1; ; attempt++) {
    const [port, pgPort] = [await freePort(), await freePort()];
    const child = cliAsync(['serve', '--project', dir, '--port', String(port), '--pg-port', String(pgPort)], { env: TOKEN_ENV });
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const started = await waitFor(
      () => {
        if (child.exitCode !== null) {
          if (attempt < 3 && /cannot listen on 127\.0\.0\.1/.test(output)) return 'port taken';
          throw new Error(`finmesh serve exited with ${child.exitCode}:\n${output}`);
        }
        return /SQL endpoint on/.test(output) ? 'listening' : undefined;
      },
      60_000,
      `finmesh serve to listen; its output so far:\n${output}`,
    );
    if (started === 'port taken') continue;
    return served(port, pgPort, child);
  }
}

function served(port: number, pgPort: number, child: ReturnType<typeof cliAsync>) {
  return {
    url: `http://127.0.0.1:${port}`,
    pgPort,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
