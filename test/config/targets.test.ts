import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadProject } from '../../src/config/load-project.js';
import { loadProject as loadCached } from '../../src/config/project-cache.js';
import { ConfigError } from '../../src/core/errors.js';
import { cli, copyExample } from '../helpers.js';

/** The example with a `gcp` target (GCS lake, Pub/Sub bus) beside its local settings. */
function projectWithGcpTarget(): string {
  const dir = copyExample();
  appendFileSync(
    join(dir, 'finmesh.yaml'),
    [
      'targets:',
      '  gcp:',
      '    description: the fintech estate on Google Cloud',
      '    lake: { kind: gcs, bucket: fintech-lake-prod, prefix: lake/ }',
      '    bus: { kind: pubsub, projectId: fintech-prod, maxDeliveryAttempts: 5 }',
      '',
    ].join('\n'),
  );
  return dir;
}

describe('targets', () => {
  it('runs on the top-level settings by default and on a named target with --target, inheriting what it does not name', () => {
    const dir = projectWithGcpTarget();
    const local = loadProject(dir);
    assert.equal(local.target, 'local');
    assert.equal(local.config.lake.kind, 'local');
    assert.equal(local.config.bus.kind, 'memory');

    const gcp = loadProject(dir, { target: 'gcp' });
    assert.equal(gcp.target, 'gcp');
    assert.deepEqual(
      { kind: gcp.config.lake.kind, bucket: gcp.config.lake.kind === 'gcs' ? gcp.config.lake.bucket : undefined },
      { kind: 'gcs', bucket: 'fintech-lake-prod' },
    );
    assert.equal(gcp.config.bus.kind, 'pubsub');
    // Not named by the target: the top level's engine and metadata store.
    assert.equal(gcp.config.engine.kind, 'duckdb');
    assert.deepEqual(gcp.config.metadata, local.config.metadata);
  });

  it('refuses a target the project does not name, listing the ones it does', () => {
    const dir = projectWithGcpTarget();
    assert.throws(
      () => loadProject(dir, { target: 'prod' }),
      (e: unknown) => e instanceof ConfigError && /targets/.test(e.message) && /"local", "gcp"/.test(e.message) && /"prod"/.test(e.message),
    );
  });

  it('refuses a bucket name Cloud Storage would refuse, naming the field', () => {
    const dir = copyExample();
    appendFileSync(join(dir, 'finmesh.yaml'), 'targets:\n  gcp:\n    lake: { kind: gcs, bucket: Fintech_Lake }\n');
    assert.throws(
      () => loadProject(dir, { target: 'gcp' }),
      (e: unknown) =>
        e instanceof ConfigError && /targets\.gcp\.lake\.bucket/.test(e.message) && /Cloud Storage bucket name/.test(e.message),
    );
  });

  it('keeps the cached project per target: a command on gcp after one on local sees the gcp lake', async () => {
    const dir = projectWithGcpTarget();
    assert.equal((await loadCached(dir)).config.lake.kind, 'local');
    assert.equal((await loadCached(dir, { target: 'gcp' })).config.lake.kind, 'gcs');
    assert.equal((await loadCached(dir)).config.lake.kind, 'local');
  });

  it('finmesh validate --target names an unknown target and exits 2', () => {
    const dir = projectWithGcpTarget();
    const r = cli(['validate', '--project', dir, '--target', 'prod']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stdout, /targets.*"prod"/);
    assert.match(r.stdout, /"gcp"/);
  });
});
