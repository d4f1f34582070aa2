import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { type Product, type Project, sqlName } from '../config/project.js';
import { type Contract, contractSchema } from '../config/schema.js';
import { FinmeshError } from '../core/errors.js';
import { costBenefitOf } from '../cost/benefit.js';
import { buildDag, downstreamOf } from '../engine/dag.js';
import type { Context } from '../jobs/context.js';
import { jobName } from '../runs/job-names.js';
import { checkNames, checkRules } from './checks.js';
import { freshnessSlo } from './sla.js';

export interface CatalogEntry {
  product: string;
  domain: string;
  zone: string;
  owner: string | undefined;
  onCall: string | undefined;
  costCenter: string | undefined;
  description: string | undefined;
  contract: { id: string; version: string; status: string; file: string };
  outputPorts: { type: string; name: string; format?: string }[];
  schema: {
    name: string;
    type: string | undefined;
    classification: string | undefined;
    description: string | undefined;
    /** What the caller's persona sees of the column, when the server knows its caller (`clear`, `masked (<rule>)`…). */
    access?: string;
  }[];
  slos: { property: string; value: unknown; unit: string | undefined }[];
  freshness: { lastUpdated: string | null; ageSeconds: number | null; slo: string | null; withinSlo: boolean | null };
  quality: { checks: number; runLast7Days: number; passedLast7Days: number; score: number | null };
  lineage: { upstream: string[]; downstream: string[] };
  consumers: string[];
}

/** The catalog: every product with owner, schema and classifications, SLOs, freshness, quality score and neighbours. */
export async function buildCatalog(ctx: Context): Promise<CatalogEntry[]> {
  const { project } = ctx;
  const { dag } = buildDag(project);
  const since = new Date(Date.now() - 7 * 86_400_000);
  const entries: CatalogEntry[] = [];
  for (const p of project.products) {
    const domain = project.domains.find((d) => d.name === p.domain);
    const key = `${p.dataset.domain}/${p.dataset.zone}/${p.dataset.name}`;
    const files = await ctx.meta.manifest.liveFiles(key);
    const updated = files.at(-1)?.committedAt ?? (await ctx.meta.manifest.state(key))?.updatedAt;
    const slo = freshnessSlo(p);
    const age = updated ? Math.round((Date.now() - updated.getTime()) / 1000) : null;
    const results = (await ctx.meta.checks.list({ product: `${p.domain}.${p.name}`, since })).filter((r) => r.status !== 'skipped');
    const node = dag.byName.get(p.name);
    entries.push({
      product: `${p.domain}.${p.name}`,
      domain: p.domain,
      zone: p.dataset.zone,
      owner: p.owner,
      onCall: domain?.config.onCall,
      costCenter: p.settings.costCenter ?? domain?.config.costCenter,
      description: p.contract.description?.purpose,
      contract: { id: p.contract.id, version: p.contract.version, status: p.contract.status, file: p.contractFile },
      outputPorts: [
        { type: 'lake-table', name: `${ctx.storage.location}/${key}`, format: 'parquet' },
        { type: 'sql-view', name: sqlName(p.dataset) },
      ],
      schema: (p.contract.schema[0]?.properties ?? []).map((x) => ({
        name: x.name,
        type: x.physicalType ?? x.logicalType,
        classification: x.classification,
        description: x.description,
      })),
      slos: (p.contract.slaProperties ?? []).map((s) => ({ property: s.property, value: s.value, unit: s.unit })),
      freshness: {
        lastUpdated: updated?.toISOString() ?? null,
        ageSeconds: age,
        slo: slo?.text ?? null,
        withinSlo: slo && age !== null ? age * 1000 <= slo.ms : null,
      },
      quality: {
        checks: checkNames(p).length,
        runLast7Days: results.length,
        passedLast7Days: results.filter((r) => r.status === 'pass').length,
        score: results.length > 0 ? Math.round((results.filter((r) => r.status === 'pass').length / results.length) * 1000) / 1000 : null,
      },
      lineage: {
        upstream: node ? [...node.sources.map((s) => sqlName(s.dataset)), ...node.refs.map((r) => sqlName(r.dataset))] : [],
        downstream: node
          ? [...downstreamOf(dag, node)].map((n) => sqlName((project.products.find((x) => x.name === n) as Product).dataset))
          : [],
      },
      consumers: p.settings.consumers,
    });
  }
  return entries;
}

export interface Gap {
  kind: string;
  subject: string;
  file: string;
  detail: string;
}

/**
 * Monitoring gaps. From the project itself: products and sources without SLOs, products without checks, without
 * an owner or on-call, SLOs that no alert watches, datasets nobody consumes. From history, when the project has
 * run: products without lineage, checks that never ran, and from the month's cost-benefit (`finmesh cost benefit`)
 * products that cost more than they return and sources whose upkeep caused incidents.
 */
export async function findGaps(
  project: Project,
  ctx: Context | undefined,
): Promise<{ gaps: Gap[]; evaluated: { definition: boolean; history: boolean } }> {
  const gaps: Gap[] = [];
  const { dag } = buildDag(project);
  for (const p of project.products) {
    const subject = `${p.domain}.${p.name}`;
    const domain = project.domains.find((d) => d.name === p.domain);
    if (!freshnessSlo(p)) gaps.push({ kind: 'no-slo', subject, file: p.contractFile, detail: 'no latency/freshness SLA in slaProperties' });
    if (checkRules(p).length === 0)
      gaps.push({
        kind: 'no-checks',
        subject,
        file: p.contractFile,
        detail: 'the contract declares no quality rules (only the built-in checks run)',
      });
    if (!p.contractOwner) gaps.push({ kind: 'no-owner', subject, file: p.contractFile, detail: 'no team member with role owner' });
    if (!domain?.config.onCall)
      gaps.push({
        kind: 'no-on-call',
        subject,
        file: domain?.file ?? p.contractFile,
        detail: `domain ${p.domain} has no on-call rotation: alerts have nowhere to go`,
      });
    const unwatched = (p.contract.slaProperties ?? []).filter(
      (s) => !['latency', 'freshness', 'frequency', 'retention'].includes(s.property),
    );
    for (const s of unwatched)
      gaps.push({ kind: 'slo-without-alert', subject, file: p.contractFile, detail: `SLA ${s.property} has no alert rule` });
    const node = dag.byName.get(p.name);
    if (p.settings.consumers.length === 0 && node && downstreamOf(dag, node).size === 0) {
      gaps.push({ kind: 'unconsumed', subject, file: p.contractFile, detail: 'no consumers declared and no product reads it' });
    }
  }
  for (const s of project.sources) {
    const domain = project.domains.find((d) => d.name === s.domain);
    if (!domain?.config.onCall)
      gaps.push({
        kind: 'no-on-call',
        subject: s.name,
        file: domain?.file ?? s.file,
        detail: `domain ${s.domain} has no on-call rotation`,
      });
    if (s.config.kind === 'sftp' && s.config.expectedDaily === undefined)
      gaps.push({ kind: 'no-slo', subject: s.name, file: s.file, detail: 'no expectedDaily: missing partner files cannot be detected' });
    const readers = dag.nodes.filter((n) => n.sources.includes(s));
    if (readers.length === 0) gaps.push({ kind: 'unconsumed', subject: s.name, file: s.file, detail: 'no model reads this source' });
  }
  if (!ctx) return { gaps, evaluated: { definition: true, history: false } };
  const events = await ctx.meta.lineage.list();
  const results = await ctx.meta.checks.list();
  for (const p of project.products) {
    const subject = `${p.domain}.${p.name}`;
    if (!events.some((e) => e.jobName === jobName.model(p)))
      gaps.push({ kind: 'no-lineage', subject, file: p.contractFile, detail: 'no lineage event recorded for its model' });
    const ran = new Set(results.filter((r) => r.product === subject && r.status !== 'skipped').map((r) => r.checkId));
    for (const c of checkRules(p))
      if (!ran.has(c.id)) gaps.push({ kind: 'check-never-ran', subject, file: p.contractFile, detail: `${c.id} has never run` });
  }
  const benefit = await costBenefitOf(ctx);
  for (const b of benefit.products.filter((x) => x.verdict === 'retire-or-merge')) {
    const p = project.products.find((x) => `${x.domain}.${x.name}` === b.product);
    gaps.push({ kind: 'cost-over-benefit', subject: b.product, file: p?.contractFile ?? '', detail: b.why });
  }
  for (const s of benefit.sources.filter((x) => x.failedRuns + x.failedFiles + x.quarantinedFiles + x.pages > 0)) {
    gaps.push({
      kind: 'source-upkeep',
      subject: s.source,
      file: project.sources.find((x) => x.name === s.source)?.file ?? '',
      detail: s.why,
    });
  }
  return { gaps, evaluated: { definition: true, history: true } };
}

export function readContract(file: string): Contract {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, 'utf8'));
  } catch (cause) {
    throw new FinmeshError('NOT_FOUND', `cannot read the contract ${file}: ${(cause as Error).message}`, { cause });
  }
  const r = contractSchema.safeParse(doc);
  if (!r.success)
    throw new FinmeshError('CONFIG_INVALID', `${file} is not a contract finmesh can read: ${r.error.issues[0]?.message ?? ''}`);
  return r.data;
}
