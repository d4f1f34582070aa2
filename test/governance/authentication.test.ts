import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inspect } from 'node:util';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { type AccessModel, accessModelSchema } from '../../src/config/access-schema.js';
import { loadProject } from '../../src/config/load-project.js';
import { ManualClock } from '../../src/core/clock.js';
import { FinmeshError } from '../../src/core/errors.js';
import { AccessPolicy } from '../../src/governance/access.js';
import { Authenticator, sha256 } from '../../src/governance/authentication.js';
import { EXAMPLE } from '../helpers.js';

const model = (extra: Record<string, unknown>): AccessModel =>
  accessModelSchema.parse({
    apiVersion: 'finmesh/v1',
    kind: 'AccessModel',
    personas: { analyst: { grants: [{ domains: ['payments'] }] }, risk: { classifications: { pci: 'clear' } } },
    ...extra,
  });
const refused = (message: RegExp) => (e: unknown) => e instanceof FinmeshError && e.code === 'UNAUTHENTICATED' && message.test(e.message);

describe('Authenticator: API tokens', () => {
  it('knows a token by its SHA-256 only, refuses unknown, expired and revoked ones, and never echoes a token', async () => {
    process.env.FM_TEST_TOKEN_A = 'token-a-value';
    const clock = new ManualClock(Date.UTC(2027, 5, 1));
    const auth = await Authenticator.create(
      model({
        tokens: [
          { name: 'a', persona: 'analyst', secret: 'env:FM_TEST_TOKEN_A', expires: '2027-06-30' },
          { name: 'b', persona: 'risk', sha256: sha256('token-b-value').toString('hex'), expires: '2027-06-01T12:00:00Z' },
          { name: 'c', persona: 'risk', sha256: sha256('token-c-value').toString('hex'), expires: '2099-01-01', revoked: true },
        ],
      }),
      '.',
      { clock },
    );
    assert.deepEqual(await auth.authenticate('token-a-value'), { persona: 'analyst', principal: 'token:a' });
    assert.deepEqual(await auth.authenticate('token-b-value'), { persona: 'risk', principal: 'token:b' });
    await assert.rejects(auth.authenticate(undefined), refused(/a token is required/));
    await assert.rejects(auth.authenticate('token-x'), (e) => refused(/unknown token/)(e) && !inspect(e).includes('token-x'));
    await assert.rejects(auth.authenticate('token-c-value'), refused(/token c was revoked/));
    clock.set(Date.UTC(2027, 5, 1, 12));
    await assert.rejects(auth.authenticate('token-b-value'), refused(/token b expired/));
    clock.set(Date.UTC(2027, 5, 30, 23, 59));
    assert.equal((await auth.authenticate('token-a-value')).persona, 'analyst', 'a day expires at its end');
    clock.set(Date.UTC(2027, 6, 1));
    await assert.rejects(auth.authenticate('token-a-value'), refused(/expired on 2027-06-30/));
  });

  it('leaves out a token whose secret is not set, saying which, and keeps the others', async () => {
    const skipped: string[] = [];
    const auth = await Authenticator.create(
      model({
        tokens: [
          { name: 'missing', persona: 'analyst', secret: 'env:FM_TEST_NOT_SET', expires: '2099-01-01' },
          { name: 'b', persona: 'risk', sha256: sha256('token-b-value').toString('hex'), expires: '2099-01-01' },
        ],
      }),
      '.',
      { onSkip: (t) => skipped.push(t) },
    );
    assert.deepEqual(skipped, ['missing']);
    assert.equal((await auth.authenticate('token-b-value')).persona, 'risk');
  });
});

describe('Authenticator: OIDC bearer tokens against a real JWKS endpoint', () => {
  let server: Server;
  let issuer: string;
  let sign: (claims: Record<string, unknown>, options?: { audience?: string; expiresIn?: string }) => Promise<string>;
  before(async () => {
    const { publicKey, privateKey } = await generateKeyPair('RS256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    server = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration') res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    sign = (claims, o = {}) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
        .setIssuer(issuer)
        .setAudience(o.audience ?? 'finmesh')
        .setIssuedAt()
        .setExpirationTime(o.expiresIn ?? '5m')
        .sign(privateKey);
  });
  after(() => server?.close());

  it('maps a verified token to a persona by its groups claim, and refuses a wrong audience, a forged signature and an unmapped group', async () => {
    const auth = await Authenticator.create(
      model({ oidc: { issuer, audience: 'finmesh', claim: 'groups', personas: { 'risk-team': 'risk', analysts: 'analyst' } } }),
      '.',
    );
    assert.deepEqual(await auth.authenticate(await sign({ sub: 'maria', groups: ['staff', 'risk-team'] })), {
      persona: 'risk',
      principal: 'oidc:maria',
    });
    await assert.rejects(
      auth.authenticate(await sign({ sub: 'x', groups: ['risk-team'] }, { audience: 'other' })),
      refused(/invalid OIDC token/),
    );
    const token = await sign({ sub: 'x', groups: ['risk-team'] });
    const [h, p] = token.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ sub: 'x', groups: ['risk-team'], iss: issuer, aud: 'finmesh', exp: 9e9 })).toString('base64url')}.${token.split('.')[2]}`;
    assert.ok(p);
    await assert.rejects(auth.authenticate(forged), refused(/invalid OIDC token/));
    await assert.rejects(
      auth.authenticate(await sign({ sub: 'y', groups: ['staff'] })),
      (e) => e instanceof FinmeshError && e.code === 'PERMISSION' && /oidc\.personas/.test(e.message),
    );
  });
});

describe('AccessPolicy: break-glass', () => {
  it('widens a persona only between from and until, naming the grant and its reason', () => {
    const project = loadProject(EXAMPLE);
    const access = project.access as AccessModel;
    const clock = new ManualClock(Date.parse('2026-10-01T12:00:00Z'));
    const policy = new AccessPolicy(project, access, clock);
    const during = policy.decide('payments-analyst', 'payments_silver.transactions');
    assert.equal(during.breakGlass.length, 0, 'the transactions of silver carry no PII: nothing to widen');
    const cpf = policy.decide('payments-analyst', 'customers_silver.customers');
    assert.equal(cpf.allowed, false, 'break-glass widens classifications, not datasets, here');
    const model2 = structuredClone(access);
    model2.breakGlass[0] = {
      ...(model2.breakGlass[0] as AccessModel['breakGlass'][number]),
      grants: [{ domains: ['customers'], zones: ['bronze'] }],
      raw: true,
    };
    const widened = new AccessPolicy(project, model2, clock).decide('payments-analyst', 'customers_bronze.customers');
    assert.equal(widened.allowed, true);
    assert.match(widened.because, /breakGlass\[0\].*INC-4711/);
    assert.equal(widened.columns.find((c) => c.name === 'cpf')?.level, 'clear');
    assert.deepEqual(
      widened.breakGlass.map((g) => g.index),
      [0],
    );
    clock.set(Date.parse('2026-10-02T00:00:00Z'));
    assert.equal(
      new AccessPolicy(project, model2, clock).decide('payments-analyst', 'customers_bronze.customers').allowed,
      false,
      'expired',
    );
  });
});
