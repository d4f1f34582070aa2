import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parseDocument } from 'yaml';
import { loadProject } from '../../../src/config/load-project.js';
import { FinmeshError } from '../../../src/core/errors.js';
import { isFileSource } from '../../../src/sources/files/file-source-kinds.js';
import { createFileSource } from '../../../src/sources/files/registry.js';
import { generateHostKey } from '../../../src/sources/files/sftp/host-key.js';
import { copyExample } from '../../helpers.js';
import { portOpen } from '../../launchers.js';

/** The example with its acquirer settlements served by finmesh's embedded server, as `finmesh demo` sets it up. */
function embeddedProject(settings: Record<string, unknown> = {}): string {
  const dir = copyExample();
  mkdirSync(join(dir, '.finmesh/secrets'), { recursive: true });
  const hostKey = generateHostKey();
  writeFileSync(join(dir, '.finmesh/secrets/acquirer-settlements.host_key'), hostKey.privateKey, { mode: 0o600 });
  const file = join(dir, 'domains/partners/sources/acquirer-settlements.yaml');
  const doc = parseDocument(readFileSync(file, 'utf8'));
  const all = {
    host: '127.0.0.1',
    password: 'env:FINMESH_TEST_REGISTRY_PASSWORD',
    hostKeyFingerprint: hostKey.fingerprint,
    embedded: { root: 'partner' },
    ...settings,
  };
  for (const [k, v] of Object.entries(all)) doc.set(k, v);
  writeFileSync(file, doc.toString());
  mkdirSync(join(dir, 'partner/outbound/settlements'), { recursive: true });
  writeFileSync(join(dir, 'partner/outbound/settlements/EDI_1.txt'), 'hello');
  return dir;
}

describe('file source registry', () => {
  it('starts the embedded server a source asks for, connects to it with the resolved password, and stops it on close', async () => {
    process.env.FINMESH_TEST_REGISTRY_PASSWORD = 'pw-registry';
    const project = loadProject(embeddedProject());
    const source = project.sources.find((s) => s.name === 'acquirer-settlements');
    assert.ok(source && isFileSource(source));
    const files = await createFileSource(source, project);
    const port = Number(/^sftp:\/\/127\.0\.0\.1:(\d+)$/.exec(files.location)?.[1]);
    try {
      assert.equal(files.kind, 'sftp');
      assert.ok(port > 0 && port !== 22, `the embedded server's own port (${files.location})`);
      assert.deepEqual(
        (await files.list('/outbound/settlements')).map((f) => [f.path, f.size]),
        [['/outbound/settlements/EDI_1.txt', 5]],
      );
    } finally {
      await files.close();
    }
    assert.equal(await portOpen(port), false, 'the embedded server stopped with the source');
  });

  it('names the file and field of a secret it cannot resolve, as CONFIG_INVALID', async () => {
    delete process.env.FINMESH_TEST_REGISTRY_UNSET;
    const project = loadProject(embeddedProject({ password: 'env:FINMESH_TEST_REGISTRY_UNSET' }));
    const source = project.sources.find((s) => s.name === 'acquirer-settlements');
    assert.ok(source);
    await assert.rejects(
      createFileSource(source, project),
      (e: unknown) =>
        e instanceof FinmeshError &&
        e.code === 'CONFIG_INVALID' &&
        /acquirer-settlements\.yaml: password: .*FINMESH_TEST_REGISTRY_UNSET/.test(e.message),
    );
  });

  it('says a change feed is not a file source', async () => {
    const project = loadProject(copyExample());
    const feed = project.sources.find((s) => !isFileSource(s));
    assert.ok(feed);
    await assert.rejects(createFileSource(feed, project), (e: unknown) => e instanceof FinmeshError && e.code === 'NOT_SUPPORTED');
  });
});
