import assert from 'node:assert/strict';
import { appendFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { cli, copyExample, ROOT } from '../helpers.js';

/** Every command of the CLI, registered on a fresh program from src/cli/commands (so a new command is covered too). */
async function program(): Promise<Command> {
  const root = new Command('finmesh');
  const dir = join(ROOT, 'src/cli/commands');
  for (const f of readdirSync(dir)
    .filter((x) => x.endsWith('.ts'))
    .sort()) {
    const mod = (await import(join(dir, f))) as Record<string, unknown>;
    for (const [name, fn] of Object.entries(mod)) if (name.startsWith('register') && typeof fn === 'function') fn(root);
  }
  return root;
}

function leaves(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  if (cmd.commands.length === 0) return [{ path, cmd }];
  return cmd.commands.flatMap((c) => leaves(c, [...path, c.name()]));
}

describe('--target', () => {
  it('is taken by every command that reads a project (--project), alerts included', async () => {
    const commands = leaves(await program());
    const reading = commands.filter((c) => c.cmd.options.some((o) => o.long === '--project'));
    assert.ok(reading.length >= 20, `${reading.length} commands take --project`);
    const without = reading.filter((c) => !c.cmd.options.some((o) => o.long === '--target')).map((c) => c.path.join(' '));
    assert.deepEqual(without, [], 'commands that take --project but not --target');
    assert.ok(
      reading.some((c) => c.path.join(' ') === 'alerts'),
      'finmesh alerts reads a project',
    );
  });

  it('finmesh alerts --target writes the rules for that target, and names an unknown target with exit 2', () => {
    const dir = copyExample();
    appendFileSync(
      join(dir, 'finmesh.yaml'),
      'targets:\n  gcp:\n    lake: { kind: gcs, bucket: fintech-lake-prod, projectId: fintech-prod }\n',
    );
    const local = cli(['alerts', '--project', dir]);
    assert.equal(local.status, 0, local.stderr);
    const gcp = cli(['alerts', '--project', dir, '--target', 'gcp']);
    assert.equal(gcp.status, 0, gcp.stderr);
    assert.match(gcp.stdout, /alert: FinmeshSLOBurnRatePage/);
    assert.equal(gcp.stdout, local.stdout, 'the SLOs and their rules are the project’s, whatever the target');
    const unknown = cli(['alerts', '--project', dir, '--target', 'prod']);
    assert.equal(unknown.status, 2, unknown.stderr);
    assert.match(unknown.stdout + unknown.stderr, /"prod"/);
    assert.match(unknown.stdout + unknown.stderr, /"gcp"/);
  });

  it('finmesh stream refuses a target whose lake is not local and whose models the embedded DuckDB would run, before reading anything (exit 2), rather than dead-lettering every batch', () => {
    const dir = copyExample();
    appendFileSync(
      join(dir, 'finmesh.yaml'),
      'targets:\n  gcp:\n    lake: { kind: gcs, bucket: fintech-lake-prod, projectId: fintech-prod }\n',
    );
    const r = cli(['stream', '--until-caught-up', '--project', dir, '--target', 'gcp']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /target "gcp": its models run in the embedded DuckDB, which cannot read a gcs lake's objects/);
    assert.match(r.stderr, /engine: \{ kind: bigquery \}, or stream with --no-models/);
    assert.match(r.stderr, /docs\/google-cloud\.md/);
    assert.ok(!existsSync(join(dir, '.finmesh/lake/quarantine')), 'nothing was quarantined');
  });
});
