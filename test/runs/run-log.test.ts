import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { DEFAULT_RUN_LOG_CHARS, DEFAULT_RUN_LOG_LINES } from '../../src/metadata/metadata-store.js';
import { SqliteMetadataStore } from '../../src/metadata/sqlite/sqlite-metadata-store.js';
import { createLogger } from '../../src/observability/logger.js';
import { Runs } from '../../src/runs/runs.js';
import { tempDir } from '../helpers.js';

describe('a run’s log, kept with the run', () => {
  it('stores its info, warning and error lines (not debug), redacted, bounded, with the failure last', async () => {
    const meta = await SqliteMetadataStore.create({ path: join(tempDir(), 'm.db') });
    let written = '';
    const destination = new Writable({
      write(chunk, _enc, done) {
        written += chunk;
        done();
      },
    });
    const runs = new Runs({ meta, lineage: { emit: () => {} }, logger: createLogger({ level: 'warn', destination }) });
    try {
      const run = await runs.start({ job: 'model:payments.transactions', kind: 'model', labels: { domain: 'payments' } });
      run.log.debug('not kept');
      run.log.info({ files: 2, password: 'hunter2', nested: { token: 'abc', n: 1 } }, 'read %d files', 2);
      run.log.child({ step: 'merge' }).warn({ cpf: '123.456.789-00' }, 'late rows');
      for (let i = 0; i < DEFAULT_RUN_LOG_LINES + 10; i++) run.log.info(`progress ${i}`);
      run.log.info('x'.repeat(DEFAULT_RUN_LOG_CHARS + 50));
      await run.fail(new Error('Binder Error: column "amount_x" not found'));
      const logs = await meta.runs.logs(run.id);
      assert.equal(logs.length, DEFAULT_RUN_LOG_LINES);
      assert.ok(!logs.some((l) => l.message === 'not kept'), 'debug lines are not kept');
      // The oldest info lines made room; the warning and the failure stayed.
      assert.ok(!logs.some((l) => l.message === 'read 2 files'));
      const warning = logs.find((l) => l.severity === 'WARNING');
      assert.deepEqual(warning && { message: warning.message, fields: warning.fields }, {
        message: 'late rows',
        fields: { step: 'merge', cpf: '[REDACTED]' },
      });
      const last = logs.at(-1);
      assert.equal(last?.severity, 'ERROR');
      assert.equal(last?.message, 'model:payments.transactions failed: Binder Error: column "amount_x" not found');
      assert.equal(last?.fields.outcome, 'failed');
      assert.ok(!('run_id' in (last?.fields ?? {})) && !('domain' in (last?.fields ?? {})), 'the run’s bindings are not repeated');
      const long = logs.find((l) => l.message.startsWith('xxx'));
      assert.equal(long?.message.length, DEFAULT_RUN_LOG_CHARS);
      // What went to standard error is unchanged: its level still decides (info lines not written), its redaction still applies.
      assert.ok(!written.includes('progress'), 'info lines below the logger’s level are not written');
      assert.ok(written.includes('late rows') && !written.includes('123.456.789-00'));
    } finally {
      await runs.close();
      await meta.close();
    }
  });

  it('redacts secrets inside nested fields of a kept line', async () => {
    const meta = await SqliteMetadataStore.create({ path: join(tempDir(), 'm.db') });
    const runs = new Runs({ meta, lineage: { emit: () => {} }, logger: createLogger({ level: 'error' }) });
    try {
      const run = await runs.start({ job: 'ingest:acquirer-settlements', kind: 'ingest' });
      run.log.warn({ connection: { host: 'sftp.example', password: 'hunter2', token: 't0k' }, err: new Error('refused') }, 'retrying');
      await run.succeed();
      const [line] = await meta.runs.logs(run.id);
      assert.equal(line?.message, 'retrying');
      assert.equal(line?.fields.err, 'refused');
      assert.equal(line?.fields.connection, JSON.stringify({ host: 'sftp.example', password: '[REDACTED]', token: '[REDACTED]' }));
    } finally {
      await runs.close();
      await meta.close();
    }
  });
});
