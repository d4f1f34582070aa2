import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { componentLogger, logFormat, personLine } from '../../src/observability/logger.js';

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

describe('logs for a person at a terminal', () => {
  it('are JSON in a pipe or a file, sentences on a terminal, as FINMESH_LOG_FORMAT chooses', () => {
    assert.equal(logFormat({}, { isTTY: false }), 'json');
    assert.equal(logFormat({}, { isTTY: true }), 'text');
    assert.equal(logFormat({ FINMESH_LOG_FORMAT: 'json' }, { isTTY: true }), 'json');
    assert.equal(logFormat({ FINMESH_LOG_FORMAT: 'text' }, { isTTY: false }), 'text');
  });

  it('read as one sentence: time, severity, component, message, then what it is about — redacted as the JSON is', () => {
    const { lines, stream } = capture();
    const log = componentLogger({ level: 'info', components: {} }, 'runs', stream).child({
      run_id: '01a22203-2dcc',
      job: 'ingest:acquirer-settlements',
    });
    log.warn(
      { path: 'in/settle\x1b[2J.csv', err_message: 'checksum', password: 'hunter2' },
      'ingest:acquirer-settlements succeeded in 2 s; 1 row quarantined',
    );
    const json = JSON.stringify(lines[0]);
    const line = personLine(json, false);
    assert.match(
      line,
      /^\d\d:\d\d:\d\d WARNING runs: ingest:acquirer-settlements succeeded in 2 s; 1 row quarantined · file in\/settle\\x1b\[2J\.csv · error checksum · run 01a22203-2dcc\n$/,
    );
    assert.ok(!line.includes('hunter2'));
    assert.ok(!line.includes('job ingest:'), 'the job is not repeated when the message names it');
    assert.ok(personLine(json, true).includes('\x1b[33mWARNING\x1b[0m'), 'the severity in colour');
    assert.equal(personLine('not json', false), 'not json\n');
  });
});
