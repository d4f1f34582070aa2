import type { Command } from 'commander';
import type { Project } from '../../config/project.js';
import type { AccessPolicy } from '../../governance/access.js';
import type { AuditKind, AuditRecord } from '../../metadata/metadata-store.js';
import { failuresFound } from '../exit-codes.js';
import { examples, integer, isoDateTime, oneOf, projectOption } from '../options.js';
import { formatTable, print, printJson, say } from '../output.js';

/** The access model of a project read through the cache, as an `AccessPolicy`; a project without one is a usage error. */
async function policyOf(dir: string): Promise<AccessPolicy> {
  const [{ loadProject }, { ACCESS_FILE }, { FinmeshError }, { AccessPolicy }] = await Promise.all([
    import('../../config/project-cache.js'),
    import('../../config/access-names.js'),
    import('../../core/errors.js'),
    import('../../governance/access.js'),
  ]);
  const project: Project = await loadProject(dir);
  if (!project.access) throw new FinmeshError('CONFIG_INVALID', `the project has no ${ACCESS_FILE} (docs/governance.md describes it)`);
  return new AccessPolicy(project, project.access);
}

export function registerGovernance(program: Command): void {
  const access = program.command('access').description('who may see what: the access model of governance/access.yaml');

  const matrix = access
    .command('matrix')
    .description('every persona × dataset (or × column): clear, masked, partial (some columns denied) or denied');
  projectOption(matrix)
    .option('--format <format>', 'text, csv or json', oneOf(['text', 'csv', 'json'] as const), 'text')
    .option('--columns', 'one row per column instead of per dataset')
    .action(async (opts: { project: string; format: 'text' | 'csv' | 'json'; columns?: boolean }) => {
      const policy = await policyOf(opts.project);
      const { accessMatrix, columnMatrix, toCsv } = await import('../../governance/matrix.js');
      const rows = (opts.columns ? columnMatrix(policy) : accessMatrix(policy)) as unknown as Record<string, unknown>[];
      const columns = opts.columns
        ? ['persona', 'dataset', 'name', 'classification', 'level', 'rule', 'because']
        : ['persona', 'dataset', 'access', 'clear', 'masked', 'tokenised', 'denied', 'rowFilter'];
      if (opts.format === 'json') printJson(rows);
      else if (opts.format === 'csv')
        process.stdout.write(
          toCsv(
            columns.map((c) => (c === 'name' ? 'column' : c)),
            rows.map((r) => ({ ...r, column: r.name })),
          ),
        );
      else if (opts.columns) print(formatTable(columns.slice(0, 6), rows));
      else {
        // Text: personas across, datasets down.
        const personas = policy.personas();
        const byCell = new Map(rows.map((r) => [`${r.persona}|${r.dataset}`, `${r.access}${r.rowFilter ? '+rows' : ''}`]));
        const table: Record<string, unknown>[] = policy
          .datasets()
          .map((d) => ({ dataset: d.name, ...Object.fromEntries(personas.map((p) => [p, byCell.get(`${p}|${d.name}`)])) }));
        print(formatTable(['dataset', ...personas], table));
      }
    });
  examples(matrix, ['finmesh access matrix', 'finmesh access matrix --columns --format csv > access.csv']);

  const explain = access
    .command('explain')
    .description('which grant allows or denies a persona reading a dataset or column, and why')
    .argument('<persona>')
    .argument('<target>', '<domain>_<zone>.<dataset>[.<column>]');
  projectOption(explain)
    .option('--json', 'print the explanation as JSON')
    .action(async (persona: string, target: string, opts: { project: string; json?: boolean }) => {
      const policy = await policyOf(opts.project);
      const { explainAccess } = await import('../../governance/matrix.js');
      const e = explainAccess(policy, persona, target);
      if (opts.json) {
        printJson(e);
        return;
      }
      const lines = [`${persona} → ${target}: ${e.access}`, `  ${e.because}`];
      for (const f of e.rowFilters) lines.push(`  rows only where ${f.where} (${f.path})`);
      for (const g of e.breakGlass) lines.push(`  break-glass ${g.index} until ${g.until}: ${g.reason}`);
      if (e.column === undefined && e.allowed) {
        for (const c of e.columns)
          lines.push(`  ${c.name.padEnd(24)} ${(c.level === 'masked' ? `masked (${c.rule})` : c.level).padEnd(18)} ${c.because}`);
      }
      print(lines.join('\n'));
    });
  examples(explain, [
    'finmesh access explain payments-analyst payments_silver.transactions',
    'finmesh access explain payments-analyst payments_silver.transactions.card_pan_masked --json',
  ]);

  const terraform = access
    .command('terraform')
    .description(
      'Google Cloud access as a Terraform module: IAM per persona (datasets, tables, the lake’s raw prefixes), service accounts per job, policy tags, data masking, row access policies',
    );
  projectOption(terraform)
    .option('--out <dir>', 'write the module’s .tf files here', 'terraform/access')
    .option('--gcp-project <id>', 'default of var.project_id', 'fintech-data')
    .option('--location <region>', 'default of var.location', 'southamerica-east1')
    .option('--lake-bucket <name>', 'default of var.lake_bucket', 'fintech-data-lake')
    .action(async (opts: { project: string; out: string; gcpProject: string; location: string; lakeBucket: string }) => {
      const policy = await policyOf(opts.project);
      const [{ mkdirSync, writeFileSync }, { join }, { gcpAccessTerraform }] = await Promise.all([
        import('node:fs'),
        import('node:path'),
        import('../../governance/terraform.js'),
      ]);
      const files = gcpAccessTerraform(policy, { projectId: opts.gcpProject, location: opts.location, lakeBucket: opts.lakeBucket });
      mkdirSync(opts.out, { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(opts.out, name), text);
      say(`${Object.keys(files).length} Terraform files in ${opts.out}: ${Object.keys(files).join(', ')}`);
    });
  examples(terraform, [
    'finmesh access terraform --out terraform/access --gcp-project my-data',
    'cd terraform/access && terraform init && terraform validate',
  ]);

  const audit = program.command('audit').description('the tamper-evident audit log: reads, decisions, grant changes, break-glass');
  const verify = audit.command('verify').description("check the log's hash chain; exit 1 naming every record edited, deleted or reordered");
  projectOption(verify)
    .option('--expect-head <hash>', 'the head hash a previous verify printed: also proves no record was cut off the end')
    .option('--json', 'print the verdict as JSON')
    .action(async (opts: { project: string; expectHead?: string; json?: boolean }) => {
      const { verifyAuditChain } = await import('../../metadata/audit-chain.js');
      const verdict = verifyAuditChain(await auditRecords(opts.project, {}), opts.expectHead);
      if (opts.json) printJson(verdict);
      else if (verdict.ok) say(`audit log intact: ${verdict.records} records, head ${verdict.head}`);
      else {
        say(
          `audit log tampered with: ${verdict.problems.length} problem${verdict.problems.length === 1 ? '' : 's'} in ${verdict.records} records`,
        );
        for (const p of verdict.problems) say(`  record ${p.seq}: ${p.problem}`);
      }
      if (!verdict.ok) failuresFound();
    });
  examples(verify, ['finmesh audit verify', 'finmesh audit verify --expect-head <hash printed by the last verify>']);

  const list = audit.command('list').description('audit records, oldest first');
  projectOption(list)
    .option('--kind <kind>', 'read, decision, grant-change, break-glass or auth')
    .option('--persona <persona>', 'records of this persona')
    .option('--since <iso>', 'records at or after this instant', isoDateTime)
    .option('--limit <n>', 'records at most', integer)
    .option('--json', 'print the records as JSON')
    .action(async (opts: { project: string; kind?: string; persona?: string; since?: Date; limit?: number; json?: boolean }) => {
      const records = await auditRecords(opts.project, opts);
      if (opts.json) printJson(records);
      else
        print(
          formatTable(
            ['seq', 'at', 'kind', 'actor', 'principal', 'action', 'resource', 'outcome'],
            records.map((r) => ({ ...r, at: r.at.toISOString() })),
          ),
        );
    });
  examples(list, [
    'finmesh audit list --kind decision --persona payments-analyst',
    'finmesh audit list --since 2026-11-27T00:00:00Z --json',
  ]);

  const exp = audit
    .command('export')
    .description('the audit log as Google Cloud Audit Logs entries (LogEntry with an AuditLog protoPayload), one JSON per line');
  projectOption(exp)
    .option('--gcp-project <id>', 'the Google Cloud project the entries name', 'finmesh')
    .option('--since <iso>', 'records at or after this instant', isoDateTime)
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (opts: { project: string; gcpProject: string; since?: Date; out?: string }) => {
      const records = await auditRecords(opts.project, opts);
      const { toCloudAuditLog } = await import('../../governance/audit.js');
      const text = records.map((r) => JSON.stringify(toCloudAuditLog(r, opts.gcpProject))).join('\n') + (records.length ? '\n' : '');
      if (opts.out) {
        (await import('node:fs')).writeFileSync(opts.out, text);
        say(`${records.length} audit records in ${opts.out}`);
      } else process.stdout.write(text);
    });
  examples(exp, [
    'finmesh audit export --out audit.jsonl',
    'finmesh audit export --since 2026-11-27T00:00:00Z --gcp-project my-data > audit.jsonl',
  ]);
}

/** The project's audit records (none when nothing ran yet). */
async function auditRecords(dir: string, opts: { kind?: string; persona?: string; since?: Date; limit?: number }): Promise<AuditRecord[]> {
  const [{ loadProject }, { FinmeshError }, { openIfRan }, { AUDIT_KINDS }] = await Promise.all([
    import('../../config/project-cache.js'),
    import('../../core/errors.js'),
    import('../../jobs/context.js'),
    import('../../metadata/metadata-store.js'),
  ]);
  if (opts.kind && !(AUDIT_KINDS as readonly string[]).includes(opts.kind)) {
    throw new FinmeshError('CONFIG_INVALID', `--kind: expected one of ${AUDIT_KINDS.join(', ')}, found "${opts.kind}"`);
  }
  const ctx = await openIfRan(await loadProject(dir));
  try {
    return (
      (await ctx?.meta.audit.list({
        kind: opts.kind as AuditKind | undefined,
        actor: opts.persona,
        since: opts.since,
        limit: opts.limit,
      })) ?? []
    );
  } finally {
    await ctx?.close();
  }
}
