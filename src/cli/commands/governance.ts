import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ACCESS_FILE } from '../../config/access-schema.js';
import { loadProject } from '../../config/load-project.js';
import type { Project } from '../../config/project.js';
import { FinmeshError } from '../../core/errors.js';
import { AccessPolicy } from '../../governance/access.js';
import { toCloudAuditLog } from '../../governance/audit.js';
import { accessMatrix, columnMatrix, explainAccess, toCsv } from '../../governance/matrix.js';
import { gcpAccessTerraform } from '../../governance/terraform.js';
import { openIfRan } from '../../jobs/context.js';
import { verifyAuditChain } from '../../metadata/audit-chain.js';
import { AUDIT_KINDS, type AuditKind } from '../../metadata/metadata-store.js';
import { formatTable, printJson, say } from '../output.js';
import { integer } from './generate.js';

function policyOf(project: Project): AccessPolicy {
  if (!project.access) throw new FinmeshError('CONFIG_INVALID', `the project has no ${ACCESS_FILE} (docs/governance.md describes it)`);
  return new AccessPolicy(project, project.access);
}

export function registerGovernance(program: Command): void {
  const access = program.command('access').description('who may see what: the access model of governance/access.yaml');
  access
    .command('matrix')
    .description('every persona × dataset (or × column): clear, masked, partial (some columns denied) or denied')
    .option('--project <dir>', 'project folder', '.')
    .option('--format <format>', 'text, csv or json', 'text')
    .option('--columns', 'one row per column instead of per dataset')
    .action((opts: { project: string; format: string; columns?: boolean }) => {
      if (!['text', 'csv', 'json'].includes(opts.format))
        throw new FinmeshError('CONFIG_INVALID', `--format: expected text, csv or json, found "${opts.format}"`);
      const policy = policyOf(loadProject(opts.project));
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
      else if (opts.columns) process.stdout.write(`${formatTable(columns.slice(0, 6), rows)}\n`);
      else {
        // Text: personas across, datasets down.
        const personas = policy.personas();
        const byCell = new Map(rows.map((r) => [`${r.persona}|${r.dataset}`, `${r.access}${r.rowFilter ? '+rows' : ''}`]));
        const table = policy
          .datasets()
          .map((d) => ({ dataset: d.name, ...Object.fromEntries(personas.map((p) => [p, byCell.get(`${p}|${d.name}`)])) }));
        process.stdout.write(`${formatTable(['dataset', ...personas], table)}\n`);
      }
    });
  access
    .command('explain')
    .description('which grant allows or denies a persona reading a dataset or column, and why')
    .argument('<persona>')
    .argument('<target>', '<domain>_<zone>.<dataset>[.<column>]')
    .option('--project <dir>', 'project folder', '.')
    .option('--json', 'print the explanation as JSON')
    .action((persona: string, target: string, opts: { project: string; json?: boolean }) => {
      const e = explainAccess(policyOf(loadProject(opts.project)), persona, target);
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
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  access
    .command('terraform')
    .description(
      'Google Cloud access as a Terraform module: IAM per persona (datasets, tables, the lake’s raw prefixes), service accounts per job, policy tags, data masking, row access policies',
    )
    .option('--project <dir>', 'project folder', '.')
    .option('--out <dir>', 'write the module’s .tf files here', 'terraform/access')
    .option('--gcp-project <id>', 'default of var.project_id', 'fintech-data')
    .option('--location <region>', 'default of var.location', 'southamerica-east1')
    .option('--lake-bucket <name>', 'default of var.lake_bucket', 'fintech-data-lake')
    .action((opts: { project: string; out: string; gcpProject: string; location: string; lakeBucket: string }) => {
      const files = gcpAccessTerraform(policyOf(loadProject(opts.project)), {
        projectId: opts.gcpProject,
        location: opts.location,
        lakeBucket: opts.lakeBucket,
      });
      mkdirSync(opts.out, { recursive: true });
      for (const [name, text] of Object.entries(files)) writeFileSync(join(opts.out, name), text);
      say(`${Object.keys(files).length} Terraform files in ${opts.out}: ${Object.keys(files).join(', ')}`);
    });

  const audit = program.command('audit').description('the tamper-evident audit log: reads, decisions, grant changes, break-glass');
  audit
    .command('verify')
    .description("check the log's hash chain; exit 1 naming every record edited, deleted or reordered")
    .option('--project <dir>', 'project folder', '.')
    .option('--expect-head <hash>', 'the head hash a previous verify printed: also proves no record was cut off the end')
    .option('--json', 'print the verdict as JSON')
    .action(async (opts: { project: string; expectHead?: string; json?: boolean }) => {
      const ctx = await openIfRan(loadProject(opts.project));
      try {
        const verdict = verifyAuditChain((await ctx?.meta.audit.list()) ?? [], opts.expectHead);
        if (opts.json) printJson(verdict);
        else if (verdict.ok) say(`audit log intact: ${verdict.records} records, head ${verdict.head}`);
        else {
          say(
            `audit log tampered with: ${verdict.problems.length} problem${verdict.problems.length === 1 ? '' : 's'} in ${verdict.records} records`,
          );
          for (const p of verdict.problems) say(`  record ${p.seq}: ${p.problem}`);
        }
        if (!verdict.ok) process.exitCode = 1;
      } finally {
        await ctx?.close();
      }
    });
  audit
    .command('list')
    .description('audit records, oldest first')
    .option('--project <dir>', 'project folder', '.')
    .option('--kind <kind>', `one of ${AUDIT_KINDS.join(', ')}`)
    .option('--persona <persona>', 'records of this persona')
    .option('--since <iso>', 'records at or after this instant')
    .option('--limit <n>', 'records at most', integer)
    .option('--json', 'print the records as JSON')
    .action(async (opts: { project: string; kind?: string; persona?: string; since?: string; limit?: number; json?: boolean }) => {
      const records = await listRecords(opts);
      if (opts.json) printJson(records);
      else
        process.stdout.write(
          `${formatTable(
            ['seq', 'at', 'kind', 'actor', 'principal', 'action', 'resource', 'outcome'],
            records.map((r) => ({ ...r, at: r.at.toISOString() })),
          )}\n`,
        );
    });
  audit
    .command('export')
    .description('the audit log as Google Cloud Audit Logs entries (LogEntry with an AuditLog protoPayload), one JSON per line')
    .option('--project <dir>', 'project folder', '.')
    .option('--gcp-project <id>', 'the Google Cloud project the entries name', 'finmesh')
    .option('--since <iso>', 'records at or after this instant')
    .option('--out <file>', 'write to this file instead of stdout')
    .action(async (opts: { project: string; gcpProject: string; since?: string; out?: string }) => {
      const records = await listRecords(opts);
      const text = records.map((r) => JSON.stringify(toCloudAuditLog(r, opts.gcpProject))).join('\n') + (records.length ? '\n' : '');
      if (opts.out) {
        writeFileSync(opts.out, text);
        say(`${records.length} audit records in ${opts.out}`);
      } else process.stdout.write(text);
    });
}

async function listRecords(opts: { project: string; kind?: string; persona?: string; since?: string; limit?: number }) {
  if (opts.kind && !(AUDIT_KINDS as readonly string[]).includes(opts.kind)) {
    throw new FinmeshError('CONFIG_INVALID', `--kind: expected one of ${AUDIT_KINDS.join(', ')}, found "${opts.kind}"`);
  }
  const since = opts.since ? new Date(opts.since) : undefined;
  if (since && Number.isNaN(since.getTime()))
    throw new FinmeshError('CONFIG_INVALID', `--since: expected an ISO instant, found "${opts.since}"`);
  const ctx = await openIfRan(loadProject(opts.project));
  try {
    return (await ctx?.meta.audit.list({ kind: opts.kind as AuditKind | undefined, actor: opts.persona, since, limit: opts.limit })) ?? [];
  } finally {
    await ctx?.close();
  }
}
