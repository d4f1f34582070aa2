import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { FinmeshError } from '../../src/core/errors.js';
import { Lineage } from '../../src/lineage/lineage.js';
import type { RunEvent } from '../../src/lineage/openlineage.js';
import { createTransports } from '../../src/lineage/registry.js';
import { describeUndelivered, LineageDeliveryError } from '../../src/lineage/transport.js';
import { FileTransport } from '../../src/lineage/transports/file-transport.js';
import { type GcpLineageClient, GcpTransport } from '../../src/lineage/transports/gcp-transport.js';
import { HttpTransport } from '../../src/lineage/transports/http-transport.js';
import { describeTransportContract, runEvent, within } from '../contracts/lineage-transport-contract.js';
import { tempDir } from '../helpers.js';
import { freePort } from '../launchers.js';

const RESOLVES_WITHIN_MS = 15_000;

describeTransportContract('file', {
  async make(onError) {
    const path = join(tempDir(), 'lineage', 'events.jsonl');
    return {
      transport: new FileTransport(path, { onError }),
      received: async (ns) => readJsonLines(path).filter((e) => e.job.namespace === ns),
    };
  },
  async makeUnreachable(onError) {
    // A folder where the file should be: every append fails with EISDIR.
    const path = join(tempDir(), 'events.jsonl');
    mkdirSync(path);
    return new FileTransport(path, { onError });
  },
});

describeTransportContract('gcp (injected client: everything up to the SDK call)', {
  async make(onError) {
    const calls: { parent: string; openLineage: Record<string, unknown> }[] = [];
    const client: GcpLineageClient = { processOpenLineageRunEvent: async (r) => void calls.push(r) };
    return {
      transport: new GcpTransport({ project: 'fintech-test', location: 'us', client, onError }),
      received: async (ns) => calls.map((c) => c.openLineage as unknown as RunEvent).filter((e) => e.job.namespace === ns),
    };
  },
  async makeUnreachable(onError, closeTimeoutMs) {
    // A call that never answers: the worst an SDK can do to close().
    const client: GcpLineageClient = { processOpenLineageRunEvent: () => new Promise(() => undefined) };
    return new GcpTransport({ project: 'fintech-test', location: 'us', client, closeTimeoutMs, onError });
  },
});

describe('GCP transport failures', () => {
  it('an API that refuses every call: each event counted undelivered, onError called once for the status code', async () => {
    const errors: Error[] = [];
    const denied = Object.assign(new Error('7 PERMISSION_DENIED: lineage.events.create denied'), { code: 7 });
    const t = new GcpTransport({
      project: 'fintech-test',
      location: 'us',
      client: { processOpenLineageRunEvent: async () => Promise.reject(denied) },
      onError: (e) => errors.push(e),
    });
    for (let i = 0; i < 4; i++) t.emit(runEvent('finmesh://gcp-denied', 'job', 'COMPLETE'));
    const report = await within(t.close(), RESOLVES_WITHIN_MS, 'GcpTransport.close() with every call refused');
    assert.equal(report.undelivered, 4, `undelivered in ${JSON.stringify(report)}`);
    assert.equal(errors.length, 1, `onError calls for 4 refusals of one kind: ${errors.map((e) => e.message).join(' | ')}`);
    assert.equal((errors[0] as FinmeshError).code, 'PERMISSION', `code of ${errors[0]?.message}`);
    assert.match(
      report.failures.join('\n'),
      /projects\/fintech-test\/locations\/us refused a run event: 7 PERMISSION_DENIED.*\(4 events\)/,
    );
  });
});

describe('HTTP transport against fault fixtures', () => {
  const servers: Fixture[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('a backend answering 401: events reported undelivered with the status, not retried, onError called once, API key never printed', async () => {
    const backend = await fixture(() => 401);
    servers.push(backend);
    const apiKey = 'sk-lineage-test-0123456789';
    const errors: Error[] = [];
    const t = new HttpTransport({ url: backend.url, apiKey, onError: (e) => errors.push(e) });
    for (let i = 0; i < 5; i++) t.emit(runEvent('finmesh://http-401', `job-${i}`, 'COMPLETE'));
    const report = await within(t.close(), RESOLVES_WITHIN_MS, 'HttpTransport.close() against a backend answering 401');

    assert.equal(backend.requests.length, 5, 'requests the backend saw for 5 events answered 401 (each tried once: a 401 will not heal)');
    assert.ok(
      backend.requests.every((r) => r.authorization === `Bearer ${apiKey}`),
      'every request carries the API key as a bearer token',
    );
    assert.equal(report.delivered, 0, `delivered in ${JSON.stringify(report)}`);
    assert.equal(report.undelivered, 5, `undelivered in ${JSON.stringify(report)}`);
    assert.deepEqual(report.failures, [`${backend.url}/api/v1/lineage answered HTTP 401 (check the API key) (5 events)`]);
    assert.equal(errors.length, 1, `onError calls for 5 events answered 401: ${errors.map((e) => e.message).join(' | ')}`);
    const error = errors[0] as LineageDeliveryError;
    assert.ok(error instanceof LineageDeliveryError, `onError received ${error.name}`);
    assert.deepEqual([error.status, error.code, error.retrying], [401, 'PERMISSION', false], error.message);
    assert.ok(error.message.includes(`${backend.url}/api/v1/lineage`), `"${error.message}" should name the URL`);
    const printed = [JSON.stringify(report), describeUndelivered(report), ...errors.map((e) => `${e.message} ${String(e.cause)}`)];
    for (const text of printed) assert.ok(!text?.includes(apiKey), `the API key appears in "${text}"`);
  });

  it('a backend answering 503, 503, 429 and then 201: events retried with backoff and all delivered in order; onError once per status', async () => {
    const backend = await fixture((n) => [503, 503, 429][n - 1] ?? 201);
    servers.push(backend);
    const errors: LineageDeliveryError[] = [];
    const t = new HttpTransport({ url: backend.url, onError: (e) => errors.push(e) });
    const events = ['START', 'COMPLETE', 'START'].map((type, i) =>
      runEvent('finmesh://http-retry', `job-${i}`, type as RunEvent['eventType']),
    );
    for (const e of events) t.emit(e);
    const report = await within(t.close(), RESOLVES_WITHIN_MS, 'HttpTransport.close() against a backend that recovers');

    assert.equal(report.delivered, 3, `delivered in ${JSON.stringify(report)}`);
    assert.equal(report.undelivered, 0, `undelivered in ${JSON.stringify(report)}`);
    const accepted = backend.requests.filter((r) => r.status === 201).map((r) => (JSON.parse(r.body) as RunEvent).run.runId);
    assert.deepEqual(
      accepted,
      events.map((e) => e.run.runId),
      'run ids the backend accepted, in order',
    );
    assert.equal(backend.requests.length, 6, 'requests: the first event tried 4 times, the others once');
    assert.deepEqual(
      errors.map((e) => [e.status, e.retrying]),
      [
        [503, true],
        [429, true],
      ],
      `onError calls: ${errors.map((e) => e.message).join(' | ')}`,
    );
    assert.equal(describeUndelivered(report), undefined, 'no warning when every event arrived');
  });

  it('a full buffer drops new events, counts them undelivered and reports it once', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const errors: Error[] = [];
    const t = new HttpTransport({ url, bufferSize: 2, timeoutMs: 500, closeTimeoutMs: 500, onError: (e) => errors.push(e) });
    for (let i = 0; i < 6; i++) t.emit(runEvent('finmesh://http-buffer', `job-${i}`, 'COMPLETE'));
    const report = await within(t.close(), RESOLVES_WITHIN_MS, 'HttpTransport.close() with a full buffer and the backend down');
    assert.equal(t.dropped, 4, 'events dropped with 2 held and 6 emitted');
    assert.equal(report.undelivered, 6, `undelivered in ${JSON.stringify(report)}`);
    const full = errors.filter((e) => e.message.includes('buffer full'));
    assert.equal(full.length, 1, `onError calls about the full buffer: ${errors.map((e) => e.message).join(' | ')}`);
    assert.ok(
      report.failures.some((f) => f.includes('buffer full') && f.endsWith('(4 events)')),
      report.failures.join('\n'),
    );
  });

  it('sends to the URL with its query, but prints it without; refuses a URL with credentials', async () => {
    const backend = await fixture(() => 201);
    servers.push(backend);
    const t = new HttpTransport({ url: `${backend.url}/marquez/?token=q-secret-123` });
    t.emit(runEvent('finmesh://http-query', 'job', 'COMPLETE'));
    const report = await within(t.close(), RESOLVES_WITHIN_MS, 'HttpTransport.close() with a query in the URL');
    assert.equal(backend.requests[0]?.url, '/marquez/api/v1/lineage?token=q-secret-123', 'the path and query the backend saw');
    assert.equal(t.target, `${backend.url}/marquez/api/v1/lineage`);
    assert.equal(report.delivered, 1);
    assert.throws(
      () => new HttpTransport({ url: 'http://user:pw-secret-456@127.0.0.1:1' }),
      (e: unknown) => e instanceof FinmeshError && e.code === 'CONFIG_INVALID' && !e.message.includes('pw-secret-456'),
      'a URL with credentials is a configuration error that does not print them',
    );
  });
});

describe('Lineage.close()', () => {
  it('with the HTTP backend down: resolves by the close deadline, returns the report and warns once with the URL and the count', async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const t = new HttpTransport({ url, timeoutMs: 500 });
    const errors: unknown[] = [];
    // close() never touches the metadata store.
    const lineage = new Lineage({} as never, [t], (e) => errors.push(e));
    for (let i = 0; i < 4; i++) t.emit(runEvent('finmesh://lineage-close', `job-${i}`, 'COMPLETE'));
    const reports = await within(lineage.close(), RESOLVES_WITHIN_MS, 'Lineage.close() with the backend down and a 1 s deadline');
    assert.equal(reports.length, 1, 'one report per transport');
    assert.equal(reports[0]?.undelivered, 4, `undelivered in ${JSON.stringify(reports)}`);
    const warnings = errors.filter((e): e is Error => e instanceof Error && /events not delivered/.test(e.message));
    assert.equal(warnings.length, 1, `warnings: ${errors.map(String).join(' | ')}`);
    assert.match(
      String(warnings[0]?.message),
      new RegExp(`^lineage: 4 of 4 events not delivered to ${url}/api/v1/lineage \\(http transport\\): cannot reach .*ECONNREFUSED`),
    );
  });
});

describe('createTransports (the lineage registry)', () => {
  const servers: Fixture[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  it('builds one transport per entry in order: paths from the project root, the API key from its secret reference', async () => {
    const backend = await fixture(() => 201);
    servers.push(backend);
    const root = tempDir();
    process.env.FINMESH_TEST_LINEAGE_API_KEY = 'sk-from-env-789';
    try {
      const transports = await createTransports(
        [
          { type: 'file', path: 'out/lineage.jsonl' },
          { type: 'http', url: backend.url, bufferSize: 10, timeoutMs: 1000, apiKey: 'env:FINMESH_TEST_LINEAGE_API_KEY' },
          { type: 'gcp', project: 'fintech-test', location: 'southamerica-east1' },
        ],
        root,
        () => undefined,
      );
      assert.deepEqual(
        transports.map((t) => [t.type, t.target]),
        [
          ['file', join(root, 'out/lineage.jsonl')],
          ['http', `${backend.url}/api/v1/lineage`],
          ['gcp', 'projects/fintech-test/locations/southamerica-east1'],
        ],
      );
      const [file, http, gcp] = transports;
      const event = runEvent('finmesh://registry', 'job', 'COMPLETE');
      file?.emit(event);
      http?.emit(event);
      // gcp gets no event: its SDK is imported on the first one, and there are no credentials here.
      const reports = await within(Promise.all(transports.map((t) => t.close())), RESOLVES_WITHIN_MS, 'closing the registry’s transports');
      assert.deepEqual(
        reports.map((r) => r.delivered),
        [1, 1, 0],
      );
      assert.equal(backend.requests[0]?.authorization, 'Bearer sk-from-env-789', 'the API key resolved from env:');
      assert.deepEqual(
        readJsonLines(join(root, 'out/lineage.jsonl')).map((e) => e.run.runId),
        [event.run.runId],
      );
      assert.ok(gcp);
    } finally {
      delete process.env.FINMESH_TEST_LINEAGE_API_KEY;
    }
  });

  it('an API key whose environment variable is unset is a configuration error naming the entry', async () => {
    delete process.env.FINMESH_TEST_LINEAGE_UNSET;
    await assert.rejects(
      createTransports(
        [
          { type: 'file', path: 'out/lineage.jsonl' },
          { type: 'http', url: 'http://127.0.0.1:1', bufferSize: 10, timeoutMs: 1000, apiKey: 'env:FINMESH_TEST_LINEAGE_UNSET' },
        ],
        tempDir(),
        () => undefined,
      ),
      (e: unknown) =>
        e instanceof FinmeshError &&
        e.code === 'CONFIG_INVALID' &&
        e.message.startsWith('finmesh.yaml: lineage.transports[1].apiKey: the environment variable FINMESH_TEST_LINEAGE_UNSET is not set'),
    );
  });
});

function readJsonLines(path: string): RunEvent[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as RunEvent);
}

interface Fixture {
  url: string;
  requests: { url: string | undefined; authorization: string | undefined; body: string; status: number }[];
  close(): Promise<void>;
}

/** A fault fixture, not a backend: answers the nth request with `status(n)` and records what it saw. */
async function fixture(status: (n: number) => number): Promise<Fixture> {
  const requests: Fixture['requests'] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const answer = status(requests.length + 1);
      requests.push({ url: req.url, authorization: req.headers.authorization, body, status: answer });
      res.statusCode = answer;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
