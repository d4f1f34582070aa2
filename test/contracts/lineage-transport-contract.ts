import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { PRODUCER, RUN_EVENT_SCHEMA, type RunEvent } from '../../src/lineage/openlineage.js';
import { describeUndelivered, LineageDeliveryError, type LineageTransport } from '../../src/lineage/transport.js';

/** A transport under test and a way to read back what its backend holds. */
export interface TransportUnderTest {
  transport: LineageTransport;
  /** The events the backend holds whose job namespace is `namespace`, in the order it received them. */
  received(namespace: string): Promise<RunEvent[]>;
}

export interface TransportContractOptions {
  skip?: string | undefined;
  /** A transport whose backend is up; failures go to `onError`. */
  make(onError: (e: Error) => void): Promise<TransportUnderTest>;
  /**
   * A transport whose backend cannot take events (a closed port, an unwritable path, an API call that never answers),
   * with its close deadline set to `closeTimeoutMs`.
   */
  makeUnreachable(onError: (e: Error) => void, closeTimeoutMs: number): Promise<LineageTransport>;
}

/** Generous: this bounds "close() resolves at all", it does not measure speed. */
const RESOLVES_WITHIN_MS = 15_000;

/** The behaviour every lineage transport must show, whatever its backend. */
export function describeTransportContract(name: string, options: TransportContractOptions): void {
  describe(`lineage transport contract: ${name}`, { skip: options.skip }, () => {
    let n = 0;
    const namespace = () => `finmesh-contract://${name.replace(/[^a-z0-9]+/gi, '-')}/${Date.now()}-${n++}`;

    it('delivers every emitted event, in emit order, and close() reports them all delivered', async () => {
      const errors: Error[] = [];
      const { transport, received } = await options.make((e) => errors.push(e));
      const ns = namespace();
      const events = Array.from({ length: 12 }, (_, i) => runEvent(ns, `job-${i % 3}`, i % 2 === 0 ? 'START' : 'COMPLETE'));
      for (const e of events) transport.emit(e);
      const report = await within(transport.close(), RESOLVES_WITHIN_MS, `${name}: close() with a healthy backend`);
      assert.deepEqual(
        report,
        { type: transport.type, target: transport.target, delivered: 12, undelivered: 0, failures: [] },
        `${name}: the close report of 12 events sent to a healthy backend`,
      );
      const got = await received(ns);
      assert.deepEqual(
        got.map(identity),
        events.map(identity),
        `${name}: what the backend holds for ${ns} (eventType, job, runId), in the order received`,
      );
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
        `${name}: onError calls with a healthy backend`,
      );
    });

    it('close() is final: called again it returns the same report; an event emitted after it is dropped, reported once, never thrown', async () => {
      const errors: Error[] = [];
      const { transport, received } = await options.make((e) => errors.push(e));
      const ns = namespace();
      transport.emit(runEvent(ns, 'before-close', 'COMPLETE'));
      const first = await within(transport.close(), RESOLVES_WITHIN_MS, `${name}: first close()`);
      assert.doesNotThrow(() => {
        transport.emit(runEvent(ns, 'after-close', 'START'));
        transport.emit(runEvent(ns, 'after-close', 'COMPLETE'));
      }, `${name}: emit() after close()`);
      const second = await within(transport.close(), RESOLVES_WITHIN_MS, `${name}: second close()`);
      assert.deepEqual(second, first, `${name}: the second close() report`);
      assert.equal(first.delivered, 1, `${name}: delivered events in the report of one event sent before close()`);
      assert.deepEqual(
        (await received(ns)).map((e) => e.job.name),
        ['before-close'],
        `${name}: jobs the backend holds for ${ns}`,
      );
      assert.equal(
        errors.length,
        1,
        `${name}: onError calls for two events emitted after close(): ${errors.map((e) => e.message).join(' | ')}`,
      );
      assert.ok(errors[0] instanceof LineageDeliveryError, `${name}: onError received ${errors[0]?.name}, expected a LineageDeliveryError`);
      assert.ok(
        errors[0].message.includes(transport.target),
        `${name}: the after-close error "${errors[0].message}" should name the target ${transport.target}`,
      );
    });

    it('with its backend unreachable, close() resolves by its deadline and reports every event undelivered', async () => {
      const errors: Error[] = [];
      const transport = await options.makeUnreachable((e) => errors.push(e), 1000);
      const ns = namespace();
      for (let i = 0; i < 5; i++) transport.emit(runEvent(ns, 'unreachable', 'COMPLETE'));
      const report = await within(
        transport.close(),
        RESOLVES_WITHIN_MS,
        `${name}: close() with the backend unreachable and a 1 s deadline`,
      );
      assert.equal(report.delivered, 0, `${name}: delivered events with the backend unreachable`);
      assert.equal(report.undelivered, 5, `${name}: undelivered events with the backend unreachable`);
      assert.ok(report.failures.length > 0, `${name}: the report names no failure`);
      const warning = describeUndelivered(report) ?? '';
      assert.ok(
        warning.includes('5 of 5 events not delivered') && warning.includes(transport.target),
        `${name}: the warning "${warning}" should say 5 of 5 events were not delivered to ${transport.target}`,
      );
      assert.ok(
        errors.length <= 1,
        `${name}: one cause of failure should reach onError at most once, found ${errors.length}: ${errors.map((e) => e.message).join(' | ')}`,
      );
      for (const e of errors) {
        assert.ok(e instanceof LineageDeliveryError, `${name}: onError received ${e.name}, expected a LineageDeliveryError`);
        assert.ok(e.message.includes(transport.target), `${name}: the error "${e.message}" should name the target ${transport.target}`);
      }
    });
  });
}

let seq = 0;

/** A minimal valid OpenLineage run event, one output dataset, a fresh run id. */
export function runEvent(namespace: string, job: string, eventType: RunEvent['eventType']): RunEvent {
  return {
    eventType,
    eventTime: new Date(Date.UTC(2026, 0, 1, 0, 0, seq++)).toISOString(),
    run: { runId: randomUUID() },
    job: { namespace, name: job },
    outputs: [{ namespace: 'file', name: `/contract/${job}` }],
    producer: PRODUCER,
    schemaURL: RUN_EVENT_SCHEMA,
  };
}

function identity(e: RunEvent): string {
  return `${e.eventType} ${e.job.name} ${e.run.runId}`;
}

/** Resolves as `p` does, or fails saying what was still pending after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: expected to resolve within ${ms} ms, still pending`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}
