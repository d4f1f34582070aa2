import assert from 'node:assert/strict';
import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { dropPartnerFiles, type SettledSale } from '../../src/demo/simulator/partner-files.js';
import { layoutDemoWorkspace } from '../../src/demo/workspace.js';
import { cli, tempDir } from '../helpers.js';

/** The example's personas, each with the environment variable its API token is read from. */
export const PERSONA_TOKENS: Record<string, string> = {
  'platform-engineer': 'FINMESH_TOKEN_PLATFORM',
  'payments-engineer': 'FINMESH_TOKEN_PAYMENTS_ENGINEER',
  'payments-analyst': 'FINMESH_TOKEN_PAYMENTS_ANALYST',
  'risk-analyst': 'FINMESH_TOKEN_RISK_ANALYST',
  auditor: 'FINMESH_TOKEN_AUDITOR',
  'partner-operator': 'FINMESH_TOKEN_PARTNER_OPERATOR',
  'bi-service': 'FINMESH_TOKEN_POWERBI',
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
  const brands = ['VISA', 'MASTERCARD', 'ELO', 'HIPERCARD'];
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
  const g = cli(['generate', '--project', dir, '--seconds', '2', '--rate', '100']);
  assert.equal(g.status, 0, g.stderr);
  const i = cli(['ingest', '--project', dir]);
  assert.equal(i.status, 0, i.stderr);
  const s = cli(['stream', '--project', dir, '--until-caught-up']);
  assert.equal(s.status, 0, s.stderr);
  return dir;
}
