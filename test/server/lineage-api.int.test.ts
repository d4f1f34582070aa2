// `POST /api/v1/lineage` is open to whatever an OpenLineage producer (or anyone) sends: only valid events are stored
// and exported, and a client's mistake is a 4xx — never a 5xx that would page someone.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { cli, cliAsync, copyExample, waitFor } from '../helpers.js';
import { freePort } from '../launchers.js';
import { openLineageValidator } from '../lineage/openlineage-schema.js';

const LINEAGE_TOKEN = 'lineage-token-for-tests';
/** The platform engineer's token, which may read /metrics. */
const PLATFORM_TOKEN = 'platform-token-for-tests';

describe('the lineage API refuses what is not OpenLineage', () => {
  let port: number;
  let dir: string;
  let server: ReturnType<typeof cliAsync>;
  before(async () => {
    port = await freePort();
    dir = copyExample();
    // The example's access model lets the `lineage` token post events (every route but /healthz needs a token).
    server = cliAsync(['serve', '--project', dir, '--port', String(port)], {
      env: { FINMESH_TOKEN_LINEAGE: LINEAGE_TOKEN, FINMESH_TOKEN_PLATFORM: PLATFORM_TOKEN },
    });
    let err = '';
    server.stderr.on('data', (d) => {
      err += d;
    });
    await waitFor(() => (/finmesh serve: /.test(err) ? true : undefined), 30_000, 'serve to start');
  });
  after(() => {
    server?.kill('SIGTERM');
  });
  const post = (body: string | Buffer, type = 'application/json') =>
    fetch(`http://127.0.0.1:${port}/api/v1/lineage`, {
      method: 'POST',
      headers: { 'content-type': type, authorization: `Bearer ${LINEAGE_TOKEN}` },
      body,
    });

  /**
   * The status a server answers to an upload, even when it answers before the body is sent and closes the
   * connection (a body over the limit): then writing the rest fails with EPIPE or ECONNRESET, and the answer is what
   * counts. (fetch reports such an upload as failed, whatever the server said.)
   */
  const uploadStatus = (body: Buffer) =>
    new Promise<number>((resolve, reject) => {
      let answered = false;
      let failure: Error | undefined;
      const req = request(
        `http://127.0.0.1:${port}/api/v1/lineage`,
        { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${LINEAGE_TOKEN}` } },
        (res) => {
          answered = true;
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'EPIPE' && e.code !== 'ECONNRESET') reject(e);
        failure = e;
      });
      req.on('close', () => {
        if (!answered) reject(failure ?? new Error('the server closed the connection without an answer'));
      });
      req.end(body);
    });

  /**
   * The server's answer to a 50 MB body. It answers 413 at once and closes; the close can reset the connection before
   * this client reads the answer (TCP discards what was received but not read), so the upload is tried up to three
   * times for an answer. When every answer was lost on the wire, `lost`: /metrics then still shows the server counted
   * no 5xx for it.
   */
  const answerToHugeUpload = async (): Promise<number | 'lost'> => {
    for (let i = 0; i < 3; i++) {
      try {
        return await uploadStatus(Buffer.alloc(50 * 1024 * 1024, 0x20));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EPIPE' && (e as NodeJS.ErrnoException).code !== 'ECONNRESET') throw e;
      }
    }
    return 'lost';
  };

  const valid = {
    eventType: 'COMPLETE',
    eventTime: '2026-11-27T10:00:00.000Z',
    producer: 'https://example.com/partner-etl',
    schemaURL: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent',
    run: { runId: '01934b6a-3c2e-7d4f-8a1b-2c3d4e5f6a7b' },
    job: { namespace: 'partner-etl', name: 'settlements-export' },
    inputs: [],
    outputs: [{ namespace: 'sftp://sftp.acquirer.example:22', name: '/outbound/settlements' }],
  };

  it('stores a valid event (201) and refuses ones the schema does not accept (400, naming what is wrong)', async () => {
    assert.equal((await post(JSON.stringify(valid))).status, 201);
    const cases: [string, unknown, RegExp][] = [
      ['a run id that is not a UUID', { ...valid, run: { runId: 'run-42' } }, /event\/run\/runId: must match format "uuid"/],
      ['an unknown event type', { ...valid, eventType: 'EXPLODED' }, /event\/eventType: must be equal to one of the allowed values/],
      ['no producer', { ...valid, producer: undefined }, /event: must have required property 'producer'/],
      [
        'a facet that breaks its own schema',
        {
          ...valid,
          run: {
            ...valid.run,
            facets: {
              nominalTime: {
                _producer: 'https://example.com/partner-etl',
                _schemaURL: 'https://openlineage.io/spec/facets/1-0-1/NominalTimeRunFacet.json#/$defs/NominalTimeRunFacet',
                nominalStartTime: 'yesterday',
              },
            },
          },
        },
        /run\.facets\.nominalTime.*nominalStartTime: must match format "date-time"/,
      ],
    ];
    for (const [what, event, reason] of cases) {
      const r = await post(JSON.stringify(event));
      assert.equal(r.status, 400, what);
      const body = (await r.json()) as { error: string; message: string };
      assert.equal(body.error, 'DATA_INVALID', what);
      assert.match(body.message, reason, what);
    }
  });

  it('answers malformed JSON, an empty body, an unknown content type and a 50 MB body with a 4xx, and counts no 5xx', async () => {
    const statuses = [
      (await post('{"eventType": "START", ')).status,
      (await post('')).status,
      (await post('eventType=START', 'application/x-www-form-urlencoded')).status,
    ];
    assert.deepEqual(statuses, [400, 400, 415]);
    const huge = await answerToHugeUpload();
    if (huge !== 'lost') assert.equal(huge, 413, 'a 50 MB body is refused as too large');
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { headers: { authorization: `Bearer ${PLATFORM_TOKEN}` } });
    assert.equal(res.status, 200);
    const metrics = await res.text();
    assert.match(metrics, /finmesh_http_requests_total\{[^}]*status_class="4xx"/, 'the refusals were counted, as 4xx');
    const fivexx = metrics.split('\n').filter((l) => l.startsWith('finmesh_http_requests_total') && l.includes('status_class="5xx"'));
    assert.deepEqual(fivexx, [], 'no request counted as a server error');
  });

  it('lineage export holds the valid event and only valid events', () => {
    const r = cli(['lineage', 'export', '--project', dir]);
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.ok(events.some((e) => e.job?.name === 'settlements-export'));
    const validate = openLineageValidator();
    for (const e of events) assert.deepEqual(validate(e), [], JSON.stringify(e));
  });
});
