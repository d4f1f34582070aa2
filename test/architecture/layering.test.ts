import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, tempDir } from '../helpers.js';
import { adapterOf, checkLayering, formatViolation, parseImports, RULES, type Rule } from './layering.js';

/** A fake project: root/src with the given files. */
function fakeSrc(files: Record<string, string>): string {
  const root = tempDir('finmesh-layering-');
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

describe('the layering of src/ (DESIGN §8b), checked on every import', () => {
  it('holds for the real src/', () => {
    const violations = checkLayering(ROOT);
    const lines = violations.map(formatViolation);
    assert.equal(violations.length, 0, `${violations.length} import(s) break the layering of src/:\n  ${lines.join('\n  ')}\n`);
  });

  it('fails on a break of each rule, and only on those', () => {
    const root = fakeSrc({
      // Allowed: what the layering is for.
      'src/core/errors.ts': `export class FinmeshError extends Error {}\n`,
      'src/core/retry.ts': `import { FinmeshError } from './errors.js';\nexport { FinmeshError };\n`,
      'src/bus/bus.ts': `import type { FinmeshError } from '../core/errors.js';\nexport type Bus = FinmeshError;\n`,
      'src/bus/registry.ts': `import type { Bus } from './bus.js';\nexport const createBus = async (): Promise<Bus> => (await import('./nats/nats-bus.js')).bus;\n`,
      'src/bus/nats/queue.ts': `export const queue = [];\n`,
      'src/bus/nats/nats-bus.ts': [
        `import { connect } from '@nats-io/transport-node';`,
        `import type { Bus } from '../bus.js';`,
        `import { FinmeshError } from '../../core/errors.js';`,
        `import { queue } from './queue.js';`,
        `import type { Lease } from '../../metadata/metadata-store.js';`, // rule 2, though type-only
        `export const bus = { connect, queue, FinmeshError } as unknown as Bus & Lease;`,
      ].join('\n'),
      'src/metadata/metadata-store.ts': `export type Lease = { id: string };\n`,
      'src/metadata/registry.ts': `import { createBus } from '../bus/registry.js';\nexport { createBus };\n`, // rule 3: registry reads registry
      'src/sources/files/port.ts': `export type FileSource = unknown;\n`,
      'src/sources/files/sftp/pool/pool.ts': `import type { FileSource } from '../../port.js';\nexport type Pool = FileSource;\n`,
      'src/sources/formats/pgp.ts': `import * as openpgp from 'openpgp';\nexport { openpgp };\n`,
      'src/jobs/stream.ts': `import { createBus } from '../bus/registry.js';\nexport const kafka = () => import('kafkajs');\nexport { createBus };\n`,
      'src/cli/main.ts': `import { run } from './commands/demo.js';\nrun();\n`,
      'src/cli/commands/demo.ts': `import { simulate } from '../../demo/simulator.js';\nexport const run = simulate;\n`,
      'src/demo/simulator.ts': `export const simulate = () => import('openpgp');\n`,
      // One break of each rule.
      'src/core/ids.ts': `import { createBus } from '../bus/registry.js';\nexport { createBus };\n`, // rules 1 and 3
      'src/mesh/catalog.ts': `export const store = () => import('../metadata/registry.js');\n`, // rule 3, dynamically
      'src/server/server.ts': `export * from '../cli/main.js';\n`, // rule 4
      'src/jobs/ingest.ts': `import { simulate } from '../demo/simulator.js';\nexport { simulate };\n`, // rule 5
      'src/lake/session.ts': `import pg from 'pg';\nimport type { PubSub } from '@google-cloud/pubsub';\nexport type S = [typeof pg, PubSub];\n`, // rule 6 once: types are erased
      'src/lineage/events.ts': `export type Client = import('@google-cloud/lineage').LineageClient;\n`, // allowed: a type loads nothing
    });
    const found = checkLayering(root).map((v) => [v.file, v.specifier, v.rule, v.kind]);
    assert.deepEqual(found, [
      ['src/bus/nats/nats-bus.ts', '../../metadata/metadata-store.js', 'adapter', 'type'],
      ['src/core/ids.ts', '../bus/registry.js', 'core', 'static'],
      ['src/core/ids.ts', '../bus/registry.js', 'registry', 'static'],
      ['src/jobs/ingest.ts', '../demo/simulator.js', 'demo', 'static'],
      ['src/lake/session.ts', 'pg', 'sdk', 'static'],
      ['src/mesh/catalog.ts', '../metadata/registry.js', 'registry', 'dynamic'],
      ['src/metadata/registry.ts', '../bus/registry.js', 'registry', 'static'],
      ['src/server/server.ts', '../cli/main.js', 'cli', 'static'],
    ]);
    const rules = new Set(found.map(([, , rule]) => rule));
    assert.deepEqual([...rules].sort(), (Object.keys(RULES) as Rule[]).sort(), 'every rule can fail');
  });

  it('names the file, the import and the rule', () => {
    const root = fakeSrc({ 'src/core/clock.ts': `import type { Project } from '../config/project.js';\n\nexport type P = Project;\n` });
    assert.deepEqual(checkLayering(root).map(formatViolation), [
      `src/core/clock.ts imports ../config/project.js: ${RULES.core} (line 1, type-only import)`,
    ]);
  });

  it('knows adapters from the data: a folder one level under a port, and whatever lies inside it', () => {
    assert.equal(adapterOf('src/bus/kafka/kafka-bus.ts'), 'src/bus/kafka');
    assert.equal(adapterOf('src/sources/files/sftp/pool/pool.ts'), 'src/sources/files/sftp');
    assert.equal(adapterOf('src/lineage/transports/http-transport.ts'), 'src/lineage/transports');
    assert.equal(adapterOf('src/bus/bus.ts'), undefined);
    assert.equal(adapterOf('src/sources/formats/csv.ts'), undefined);
    assert.equal(adapterOf('src/lineage/events.ts'), undefined);
  });

  it('reads every form of import with the TypeScript parser, not comments or strings', () => {
    const imports = parseImports(
      'x.ts',
      [
        `import a from 'a';`,
        `import type { B } from 'b';`,
        `import { type C } from 'c';`, // kept at runtime under verbatimModuleSyntax
        `export { d } from 'd';`,
        `export type { E } from 'e';`,
        `import f = require('f');`,
        `// import g from 'g';`,
        `const s = "import h from 'h'";`,
        'async function load() { return [await import(`i`), await import(s)]; }',
        `let j: typeof import('j');`,
      ].join('\n'),
    );
    assert.deepEqual(
      imports.map((i) => `${i.specifier}:${i.kind}:${i.line}`),
      ['a:static:1', 'b:type:2', 'c:static:3', 'd:static:4', 'e:type:5', 'f:static:6', 'i:dynamic:9', 'j:type:10'],
    );
  });
});
