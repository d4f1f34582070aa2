import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { componentLogger } from '../../src/observability/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('use Cloud Logging field names, carry the run id, and redact secrets and PII', () => {
    const { lines, stream } = capture();
    const log = componentLogger({ level: 'info', components: {} }, 'stream', stream).child({ run_id: '0190-run' });
    log.info({ source: 'core-transactions', password: 'hunter2', payer: { cpf: '52998224725', name: 'Maria' } }, 'batch committed');
    log.warn('slow');
    const [first, second] = lines;
    assert.equal(first?.severity, 'INFO');
    assert.equal(first?.message, 'batch committed');
    assert.equal(first?.run_id, '0190-run');
    assert.equal(typeof first?.time, 'string');
    assert.equal(first?.password, '[REDACTED]');
    assert.equal(first?.payer, '[REDACTED]');
    assert.ok(!JSON.stringify(lines).includes('52998224725'));
    assert.equal(second?.severity, 'WARNING');
  });

  it('sample info lines per component while keeping every warning', () => {
    const { lines, stream } = capture();
    const log = componentLogger({ level: 'info', components: { lineage: { sampleRate: 0.1 } } }, 'lineage', stream);
    for (let i = 0; i < 2000; i++) log.info('event delivered');
    for (let i = 0; i < 10; i++) log.warn('event not delivered');
    const info = lines.filter((l) => l.severity === 'INFO').length;
    assert.ok(info > 100 && info < 350, `${info} of 2000 info lines kept at 10%`);
    assert.equal(lines.filter((l) => l.severity === 'WARNING').length, 10);
  });
});
