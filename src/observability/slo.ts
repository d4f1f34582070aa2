import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { zodIssues } from '../config/issues.js';
import { datasetKey, type Product, type Project } from '../config/project.js';
import { ConfigError, type ValidationIssue } from '../core/errors.js';
import { freshnessSlo } from '../mesh/sla.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import { jobName } from '../runs/job-names.js';

export const SLI_KINDS = ['freshness', 'pipeline-success', 'correctness', 'completeness', 'api-availability'] as const;
export type SliKind = (typeof SLI_KINDS)[number];

/** An SLO finmesh evaluates: from a contract's SLA (defaults) or an OpenSLO v1 file in `slos/`. */
export interface Slo {
  name: string;
  service: string;
  sli: SliKind;
  /** The product the SLI is about (`domain.product`), when it is about one. */
  product: Product | undefined;
  thresholdSeconds: number | undefined;
  /** For `completeness`: the file source and how many files it must deliver each day. */
  fileSource?: { name: string; domain: string; expectedDaily: number };
  objective: number;
  windowDays: number;
  owner: string;
  source: string;
}

/**
 * The OpenSLO v1 subset finmesh reads: `kind: SLO`, `spec.service`, `spec.indicator.spec.ratioMetric.good.metricSource`
 * with `type: finmesh` and `spec: { sli, product?, thresholdSeconds? }`, one rolling `timeWindow`, and one objective
 * `target`. `budgetingMethod` is Occurrences (Timeslices for freshness, which is measured in time).
 */
const openSloSchema = z.looseObject({
  apiVersion: z.literal('openslo/v1'),
  kind: z.literal('SLO'),
  metadata: z.looseObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'a lower-case name with dashes'),
    displayName: z.string().optional(),
  }),
  spec: z.looseObject({
    service: z.string(),
    indicator: z.looseObject({
      spec: z.looseObject({
        ratioMetric: z.looseObject({
          good: z.looseObject({
            metricSource: z.looseObject({
              type: z.literal('finmesh'),
              spec: z
                .object({ sli: z.enum(SLI_KINDS), product: z.string().optional(), thresholdSeconds: z.number().positive().optional() })
                .strict(),
            }),
          }),
        }),
      }),
    }),
    timeWindow: z
      .array(z.looseObject({ duration: z.string().regex(/^\d+d$/, 'a duration in days, e.g. 28d'), isRolling: z.literal(true) }))
      .length(1),
    budgetingMethod: z.enum(['Occurrences', 'Timeslices']).optional(),
    objectives: z.array(z.looseObject({ target: z.number().gt(0).lt(1) })).min(1),
  }),
});

/** Every SLO of the project: freshness from each contract's latency SLA, pipeline success and correctness per product, and the OpenSLO files. */
export function loadSlos(project: Project): Slo[] {
  const out: Slo[] = [];
  for (const p of project.products) {
    const id = `${p.domain}.${p.name}`;
    const owner = project.domains.find((d) => d.name === p.domain)?.config.owner.team ?? p.domain;
    const fresh = freshnessSlo(p);
    if (fresh) {
      out.push({
        name: `${p.domain}-${p.name}-freshness`.replace(/_/g, '-'),
        service: id,
        sli: 'freshness',
        product: p,
        thresholdSeconds: fresh.ms / 1000,
        objective: 0.99,
        windowDays: 7,
        owner,
        source: p.contractFile,
      });
    }
    out.push({
      name: `${p.domain}-${p.name}-pipeline-success`.replace(/_/g, '-'),
      service: id,
      sli: 'pipeline-success',
      product: p,
      thresholdSeconds: undefined,
      objective: 0.99,
      windowDays: 7,
      owner,
      source: p.contractFile,
    });
    out.push({
      name: `${p.domain}-${p.name}-correctness`.replace(/_/g, '-'),
      service: id,
      sli: 'correctness',
      product: p,
      thresholdSeconds: undefined,
      objective: 0.95,
      windowDays: 7,
      owner,
      source: p.contractFile,
    });
  }
  // Partner files: the share of days on which a file source delivered the files it promises (`expectedDaily`).
  for (const s of project.sources) {
    if (s.config.kind !== 'sftp' || !s.config.expectedDaily) continue;
    out.push({
      name: `${s.domain}-${s.name}-completeness`,
      service: `${s.domain}.${s.name}`,
      sli: 'completeness',
      product: undefined,
      thresholdSeconds: undefined,
      fileSource: { name: s.name, domain: s.domain, expectedDaily: s.config.expectedDaily },
      objective: 0.95,
      windowDays: 30,
      owner: project.domains.find((d) => d.name === s.domain)?.config.owner.team ?? s.domain,
      source: s.file,
    });
  }
  const dir = join(project.root, 'slos');
  let files: string[] = [];
  try {
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch {
    return out;
  }
  const issues: ValidationIssue[] = [];
  for (const f of files) {
    const rel = `slos/${f}`;
    const doc = parse(readFileSync(join(dir, f), 'utf8'));
    const r = openSloSchema.safeParse(doc);
    if (!r.success) {
      issues.push(...zodIssues(rel, doc, r.error));
      continue;
    }
    const s = r.data.spec;
    const src = s.indicator.spec.ratioMetric.good.metricSource.spec;
    const productId = src.product ?? s.service;
    const product = project.products.find((p) => `${p.domain}.${p.name}` === productId);
    if (src.sli === 'completeness') {
      issues.push({
        file: rel,
        path: 'spec.indicator',
        expected: 'a product SLI (completeness comes from a file source’s expectedDaily)',
        found: '"completeness"',
      });
      continue;
    }
    if (src.sli !== 'api-availability' && !product) {
      issues.push({ file: rel, path: 'spec.service', expected: 'a product as <domain>.<product>', found: JSON.stringify(productId) });
      continue;
    }
    const owner = product ? (project.domains.find((d) => d.name === product.domain)?.config.owner.team ?? product.domain) : 'platform';
    const objective = s.objectives[0]?.target ?? 0.99;
    const windowDays = Number(s.timeWindow[0]?.duration.replace('d', '') ?? 7);
    // An explicit file replaces the default SLO of the same SLI and product.
    const i = out.findIndex((o) => o.sli === src.sli && o.product === product);
    const slo: Slo = {
      name: r.data.metadata.name,
      service: s.service,
      sli: src.sli,
      product,
      thresholdSeconds: src.thresholdSeconds,
      objective,
      windowDays,
      owner,
      source: rel,
    };
    if (i >= 0) out[i] = slo;
    else out.push(slo);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

export interface SloStatus {
  name: string;
  service: string;
  sli: SliKind;
  objective: number;
  window: string;
  /** The SLI over the window: good / total (null when nothing to measure yet, or measured by Prometheus only). */
  sliValue: number | null;
  errorBudgetRemaining: number | null;
  burnRates: Record<'1h' | '6h' | '1d' | '3d', number | null>;
  exhausted: boolean;
  owner: string;
  source: string;
  note?: string;
}

const HOUR = 3_600_000;

/** Why an SLO has no value yet, per SLI: what a person reading `finmesh slo` needs to know. */
const NO_DATA: Record<SliKind, string> = {
  freshness: 'the product has never been built',
  'pipeline-success': 'no model run ended in the window',
  correctness: 'no error-level check ran in the window',
  completeness: 'counted per whole UTC day since the source’s first file: no whole day yet',
  'api-availability': 'measured by Prometheus from finmesh_http_requests_total (see finmesh alerts), not from stored history',
};

/** Evaluates SLOs from stored history (runs, commits, check results, the file ledger). */
export async function evaluateSlos(slos: Slo[], meta: MetadataStore, now = Date.now()): Promise<SloStatus[]> {
  const out: SloStatus[] = [];
  for (const slo of slos) {
    const window = slo.windowDays * 24 * HOUR;
    // One read of the history per SLO; every window (the SLO's and the burn-rate ones) is computed from it.
    const errorRatio = await errorRatioFn(slo, meta, now, Math.max(window, 72 * HOUR));
    const e = errorRatio(window);
    const budget = 1 - slo.objective;
    const burn = (ms: number) => {
      const r = errorRatio(ms);
      return r === null ? null : Math.round((r / budget) * 1000) / 1000;
    };
    const spent = errorRatio.spent ? errorRatio.spent(window) : e;
    const remaining = spent === null ? null : Math.round((1 - spent / budget) * 1000) / 1000;
    out.push({
      name: slo.name,
      service: slo.service,
      sli: slo.sli,
      objective: slo.objective,
      window: `${slo.windowDays}d rolling`,
      sliValue: e === null ? null : Math.round((1 - e) * 100_000) / 100_000,
      errorBudgetRemaining: remaining,
      burnRates: { '1h': burn(HOUR), '6h': burn(6 * HOUR), '1d': burn(24 * HOUR), '3d': burn(72 * HOUR) },
      exhausted: remaining !== null && remaining <= 0,
      owner: slo.owner,
      source: slo.source,
      ...(e === null ? { note: NO_DATA[slo.sli] } : {}),
    });
  }
  return out;
}

/** The SLI's error ratio over the last `ms`, for any `ms` up to `maxMs`; null when there is nothing to measure. */
/**
 * The SLI's error ratio over the last `ms`; for a time-based SLI, `spent(ms)` is the bad time as a share of all of
 * `ms` (what the error budget is measured against).
 */
type ErrorRatio = ((ms: number) => number | null) & { spent?: (ms: number) => number };

async function errorRatioFn(slo: Slo, meta: MetadataStore, now: number, maxMs: number): Promise<ErrorRatio> {
  const none = () => null;
  const horizon = new Date(now - maxMs);
  const p = slo.product;
  switch (slo.sli) {
    case 'pipeline-success': {
      if (!p) return none;
      // Older runs were recorded under the bare product name: both spellings count.
      const spellings = [jobName.model(p), `model:${p.name}`];
      const recorded = (await Promise.all(spellings.map((job) => meta.runs.list({ job, limit: 1_000_000 })))).flat();
      const runs = recorded.filter((r) => r.startedAt >= horizon && (r.status === 'succeeded' || r.status === 'failed'));
      return (ms) => {
        const since = new Date(now - ms);
        const inWindow = runs.filter((r) => r.startedAt >= since);
        return inWindow.length === 0 ? null : inWindow.filter((r) => r.status === 'failed').length / inWindow.length;
      };
    }
    case 'correctness': {
      if (!p) return none;
      // Error-level rules only: warnings record known, tolerated defects and do not spend the budget.
      const rs = (await meta.checks.list({ product: `${p.domain}.${p.name}`, since: horizon })).filter(
        (r) => r.severity === 'error' && (r.status === 'pass' || r.status === 'fail'),
      );
      return (ms) => {
        const since = new Date(now - ms);
        const inWindow = rs.filter((r) => r.at >= since);
        return inWindow.length === 0 ? null : inWindow.filter((r) => r.status === 'fail').length / inWindow.length;
      };
    }
    case 'freshness': {
      if (!p || !slo.thresholdSeconds) return none;
      const times = (await meta.manifest.commitTimes(datasetKey(p.dataset), new Date(0))).map((d) => d.getTime());
      if (times.length === 0) return none;
      const limit = slo.thresholdSeconds * 1000;
      const ratio = (ms: number) => {
        const start = Math.max(now - ms, times[0] as number);
        const span = now - start;
        if (span <= 0) return 0;
        let bad = 0;
        const points = [...times.filter((t) => t <= now), now];
        for (let i = 1; i < points.length; i++) {
          const a = points[i - 1] as number;
          const b = points[i] as number;
          // Stale from a + limit until the next commit (b), counted inside the window only.
          const from = Math.max(a + limit, start);
          if (b > from) bad += b - from;
        }
        return Math.min(1, bad / span);
      };
      // A time-based budget is time: (1 − objective) of the whole window may be stale. Minutes of history do not
      // stand for the window — stale for 3 of the 5 minutes a product has existed spends 3 minutes of a 28-day budget.
      const spent = (ms: number) => {
        const start = Math.max(now - ms, times[0] as number);
        return ((ratio(ms) ?? 0) * Math.max(0, now - start)) / ms;
      };
      return Object.assign(ratio, { spent });
    }
    case 'completeness': {
      const f = slo.fileSource;
      if (!f) return none;
      // Whole UTC days only (today is not over), at least the last one, none before the source was first seen.
      const day = 86_400_000;
      const today = Math.floor(now / day) * day;
      const earliest = Math.min(today - day, Math.floor((now - maxMs) / day) * day);
      const { firstSeen, ingested } = await meta.ledger.days(f.name, new Date(earliest));
      if (!firstSeen) return none;
      return (ms) => {
        const from = Math.min(today - day, Math.floor((now - ms) / day) * day);
        const start = Math.max(from, Math.floor(firstSeen.getTime() / day) * day);
        let days = 0;
        let short = 0;
        for (let d = start; d < today; d += day) {
          days++;
          if ((ingested.get(new Date(d).toISOString().slice(0, 10)) ?? 0) < f.expectedDaily) short++;
        }
        return days === 0 ? null : short / days;
      };
    }
    default:
      return none;
  }
}
