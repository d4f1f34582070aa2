import { sqlName } from '../../config/project.js';
import type { JobHistory } from '../../runs/history.js';
import { runbookEntries } from '../runbooks.js';
import { type Block, type Cell, code, fig, h, type Inline, link, list, missing, type Page, p, table } from './blocks.js';
import { type DocsData, GAP_PRIORITY, gapRank, type MetricInfo } from './data.js';
import { productsFed, sourcesByKind } from './diagrams.js';
import type { Messages } from './messages/en.js';

/** A diagram as the pages need it: whether its SVG was rendered (else only its Mermaid source exists). */
export interface DiagramRef {
  name: string;
  rendered: boolean;
  mermaid: string;
}

/** The one set of templates: every page of the documents, in the language of `m`, from `data`. */
export function buildPages(data: DocsData, m: Messages, diagrams: DiagramRef[]): Page[] {
  const f = new Formatter(m.lang);
  const diagram = (name: string, caption: string): Block[] => {
    const d = diagrams.find((x) => x.name === name);
    return d
      ? [
          {
            kind: 'diagram',
            svg: `diagrams/${name}.svg`,
            source: `diagrams/${name}.mmd`,
            caption,
            rendered: d.rendered,
            mermaid: d.mermaid,
          },
        ]
      : [];
  };
  const ctx: PageContext = { data, m, f, diagram, asOf: p(m.asOf(f.date(data.takenAt))) };
  return [indexPage(ctx), architecturePage(ctx), monitoringPage(ctx), meshPage(ctx), governancePage(ctx), preparationPage(ctx)];
}

interface PageContext {
  data: DocsData;
  m: Messages;
  f: Formatter;
  diagram: (name: string, caption: string) => Block[];
  asOf: Block;
}

class Formatter {
  private readonly n: Intl.NumberFormat;
  constructor(readonly lang: string) {
    this.n = new Intl.NumberFormat(lang);
  }
  count(v: number): string {
    return this.n.format(v);
  }
  percent(v: number | null, digits = 2): string {
    if (v === null) return '–';
    return new Intl.NumberFormat(this.lang, { style: 'percent', maximumFractionDigits: digits }).format(v);
  }
  burn(v: number | null): string {
    return v === null ? '–' : `${new Intl.NumberFormat(this.lang, { maximumFractionDigits: 1 }).format(v)}×`;
  }
  /** Money as `finmesh cost` shows it: cents from one unit up, three significant digits below (a demo costs fractions of a cent). */
  money(v: number, currency: string): string {
    if (v === 0) return `${currency} 0`;
    const digits = Math.abs(v) >= 1 ? { minimumFractionDigits: 2, maximumFractionDigits: 2 } : { maximumSignificantDigits: 3 };
    return `${currency} ${new Intl.NumberFormat(this.lang, digits).format(v)}`;
  }
  /** A moment, in UTC, the same in every language. */
  date(d: Date | string): string {
    return `${new Date(d).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  }
  age(seconds: number): string {
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
    if (seconds < 86_400) return `${this.n.format(Math.round(seconds / 360) / 10)} h`;
    return `${this.n.format(Math.round(seconds / 8640) / 10)} d`;
  }
}

// ------------------------------------------------------------------------------------------------ index

function indexPage({ data, m, f, asOf }: PageContext): Page {
  const t = m.index;
  const runs = data.history?.reduce((n, j) => n + j.runs.length, 0);
  const starts = data.history?.flatMap((j) => j.runs.map((r) => r.startedAt)).sort() ?? [];
  const rows: Cell[][] = [
    [t.domains, fig('domains.count', data.project.domains.length, f.count(data.project.domains.length))],
    [t.products, fig('products.count', data.project.products.length, f.count(data.project.products.length))],
    [t.sources, fig('sources.count', data.project.sources.length, f.count(data.project.sources.length))],
    [t.slos, fig('slos.count', data.slos.length, f.count(data.slos.length))],
    [t.gaps, fig('gaps.count', data.gaps.length, f.count(data.gaps.length))],
  ];
  if (runs !== undefined) {
    rows.push([t.runs, fig('runs.count', runs, f.count(runs))]);
    rows.push([t.firstRun, starts[0] ? fig('runs.first', starts[0], f.date(starts[0])) : m.never]);
    rows.push([t.lastRun, starts.at(-1) ? fig('runs.last', starts.at(-1) as string, f.date(starts.at(-1) as string)) : m.never]);
  }
  return {
    slug: 'index',
    title: t.title,
    lead: t.lead,
    sections: [
      {
        id: 'about',
        title: t.about,
        blocks: [
          p(t.aboutText(data.project.config.name)),
          ...(data.project.config.description ? [p(data.project.config.description.trim())] : []),
        ],
      },
      {
        id: 'asks',
        title: t.asks,
        blocks: [
          table(
            t.askHead,
            t.askRows.map(([n, what, where]) => [n, what, link(where, where.split('#')[0] as string)]),
          ),
        ],
      },
      {
        id: 'figures',
        title: t.figures,
        blocks: [asOf, table(t.figureHead, rows, ['left', 'right']), ...(data.ran ? [] : [missing(m.notRun)])],
      },
      {
        id: 'regenerate',
        title: t.regenerate,
        blocks: [
          p(t.regenerateText),
          { kind: 'code', lang: 'sh', text: 'finmesh demo --seconds 60   # or run the pipelines\nfinmesh docs --out site' },
        ],
      },
    ],
  };
}

// ------------------------------------------------------------------------------------------------ architecture

function architecturePage({ data, m, f, diagram }: PageContext): Page {
  const t = m.architecture;
  const cfg = data.project.config;
  const { stream, files } = sourcesByKind(data.project);
  const kinds = (xs: string[]) => [...new Set(xs)].join(', ') || m.none;
  const c = t.cloudParts;
  const parts: [string, string, string][] = [
    [t.parts.source, kinds(stream.map((s) => s.config.kind)), c.source],
    [t.parts.files, files.length > 0 ? `sftp (${files.map((s) => s.name).join(', ')})` : m.none, c.files],
    [t.parts.bus, cfg.bus?.kind ?? 'memory', c.bus],
    [t.parts.lake, cfg.lake.kind, c.lake],
    [t.parts.engine, cfg.engine.kind, c.engine],
    [t.parts.metadata, cfg.metadata.kind, c.metadata],
    [t.parts.metrics, c.localMetrics, c.metrics],
    [t.parts.logs, c.localLogs, c.logs],
    [t.parts.lineage, c.localLineage, c.lineage],
    [t.parts.serving, c.localServing, c.serving],
  ];
  const recent = (prefix: string) =>
    (data.history ?? [])
      .filter((j) => j.job.startsWith(prefix))
      .flatMap((j) => j.runs.map((r) => ({ job: j.job, ...r })))
      .sort((a, b) => b.startedAt.localeCompare(a.startedAt))
      .slice(0, 3);
  const runRows = (prefix: string): Block[] => {
    if (!data.history) return [missing(m.notRun)];
    const rs = recent(prefix);
    if (rs.length === 0) return [p(m.monitoring.noJobs)];
    return [
      table(
        [
          'run_id',
          'job',
          m.monitoring.jobHead[7] as string,
          m.monitoring.jobHead[3] as string,
          m.monitoring.jobHead[4] as string,
          m.monitoring.jobHead[5] as string,
          m.monitoring.jobHead[6] as string,
        ],
        rs.map((r) => [
          code(r.runId),
          r.job,
          r.status,
          f.count(r.rowsIn),
          f.count(r.rowsOut),
          f.count(r.rowsRejected),
          f.date(r.startedAt),
        ]),
        ['left', 'left', 'left', 'right', 'right', 'right', 'left'],
      ),
    ];
  };
  const tx = stream[0];
  const file = files[0];
  return {
    slug: 'architecture',
    title: t.title,
    lead: t.lead,
    sections: [
      {
        id: 'targets',
        title: t.targets,
        blocks: [p(t.targetsText), ...diagram('architecture-local', t.localDiagram(cfg.name)), table(t.partHead, parts)],
      },
      { id: 'cloud', title: t.cloud, blocks: [p(t.cloudText), ...diagram('architecture-cloud', t.cloudDiagram)] },
      {
        id: 'components',
        title: t.components,
        blocks: [
          table(
            t.componentHead,
            t.componentRows.map(([a, b, c, d]) => [a, b, c, code(d)]),
          ),
        ],
      },
      {
        id: 'flow-transaction',
        title: t.flowTx,
        blocks: tx
          ? [
              p(t.flowTxText(tx.name)),
              ...diagram('flow-transaction', t.flowTxDiagram),
              p(
                `${sqlName(tx.dataset)} → ${[...productsFed(data.project, tx).direct, ...productsFed(data.project, tx).downstream].join(', ')}`,
              ),
              p(t.flowTxExample),
              ...runRows(`stream:${tx.name}`),
            ]
          : [p(t.noStream)],
      },
      {
        id: 'flow-partner-file',
        title: t.flowFile,
        blocks: file
          ? [
              p(t.flowFileText(file.name)),
              ...diagram('flow-partner-file', t.flowFileDiagram),
              p(t.flowFileExample),
              ...runRows(`ingest:${file.name}`),
            ]
          : [p(t.noFiles)],
      },
      {
        id: 'decisions',
        title: t.decisions,
        blocks: t.decisionRows.flatMap(([title, context, chose, consequences], i) => [
          h(`adr-${i + 1}`, `ADR ${i + 1}. ${title}`),
          list([[`${t.decisionHead[1]}: ${context}`], [`${t.decisionHead[2]}: ${chose}`], [`${t.decisionHead[3]}: ${consequences}`]]),
        ]),
      },
    ],
  };
}

// ------------------------------------------------------------------------------------------------ monitoring

type Resource = keyof Messages['monitoring']['resourceNames'];

function resourceOf(metric: string): Resource | undefined {
  if (/^finmesh_(source_|stream_)/.test(metric)) return 'changefeed';
  if (/^finmesh_(sftp_|file_|quarantine_|ingest_)/.test(metric)) return 'sftp';
  if (metric.startsWith('finmesh_bus_')) return 'bus';
  if (metric.startsWith('finmesh_lake_')) return 'lake';
  if (/^finmesh_(model_|job_|dataset_)/.test(metric)) return 'engine';
  if (metric.startsWith('finmesh_check_')) return 'products';
  if (metric.startsWith('finmesh_event_to_')) return 'latency';
  if (metric.startsWith('finmesh_http_')) return 'api';
  if (metric.startsWith('finmesh_simulator_')) return undefined;
  return 'process';
}

/** Which alerts watch which resource (alert names from `finmesh alerts`). */
const ALERTS_OF: Record<Resource, { alerts: string[]; slis: string[] }> = {
  changefeed: { alerts: ['FinmeshSourceLag'], slis: [] },
  sftp: { alerts: ['FinmeshPartnerFileMissing', 'FinmeshQuarantineSpike'], slis: ['completeness'] },
  bus: { alerts: [], slis: ['freshness'] },
  lake: { alerts: [], slis: ['freshness'] },
  engine: { alerts: ['FinmeshPipelineFailing'], slis: ['pipeline-success', 'freshness'] },
  products: { alerts: ['FinmeshDataQualityError'], slis: ['correctness'] },
  latency: { alerts: [], slis: ['freshness'] },
  api: { alerts: [], slis: ['api-availability'] },
  process: { alerts: ['FinmeshWatcherSilent'], slis: [] },
};

function monitoringPage({ data, m, f, diagram, asOf }: PageContext): Page {
  const t = m.monitoring;
  const byResource = new Map<Resource, MetricInfo[]>();
  for (const x of data.metrics) {
    const r = resourceOf(x.name);
    if (r) byResource.set(r, [...(byResource.get(r) ?? []), x]);
  }
  const books = runbookEntries();
  const resourceRows: Cell[][] = (Object.keys(t.resourceNames) as Resource[]).map((r) => {
    const metrics = byResource.get(r) ?? [];
    const shown = r === 'process' ? metrics.slice(0, 4) : metrics;
    const watched = ALERTS_OF[r];
    const alerts = data.alerts.filter((a) => watched.alerts.includes(a.alert));
    const slis = data.slos.filter((s) => watched.slis.includes(s.sli));
    const sympt: string[] = [...new Set(alerts.map((a) => a.alert))];
    if (slis.length > 0) sympt.push(`SLO burn rate (${[...new Set(slis.map((s) => s.sli))].join(', ')})`);
    const runbooks = [...new Set(alerts.map((a) => a.runbook))].filter(Boolean);
    if (slis.length > 0) runbooks.push('slo-burn-rate-page');
    return [
      t.resourceNames[r],
      [
        ...join(
          shown.map((x) => code(x.name)),
          ', ',
        ),
        ...(metrics.length > shown.length ? [` (+${metrics.length - shown.length})`] : []),
      ],
      sympt.join(', ') || '–',
      join(
        runbooks.map((b) => link(`monitoring#runbook-${b}`, b)),
        ', ',
      ),
    ];
  });
  const sloRows: Cell[][] = (data.sloStatus ?? []).map((s) => [
    s.name,
    s.sli,
    fig(`slo.${s.name}.objective`, s.objective, f.percent(s.objective)),
    s.window,
    fig(`slo.${s.name}.sli`, s.sliValue, s.sliValue === null ? t.sloNoData : f.percent(s.sliValue, 3)),
    fig(`slo.${s.name}.budget`, s.errorBudgetRemaining, f.percent(s.errorBudgetRemaining, 1)),
    f.burn(s.burnRates['1h']),
    s.owner,
  ]);
  const alertRows: Cell[][] = data.alerts.map((a) => [
    a.alert,
    a.severity,
    a.subject === 'slo' ? t.everySlo : a.subject === 'product' ? t.everyProduct : a.subject === 'source' ? t.everySource : a.subject,
    a.summary,
    a.runbook ? link(`monitoring#runbook-${a.runbook}`, a.runbook) : '–',
  ]);
  const jobTable = (jobs: JobHistory[]): Block =>
    table(
      t.jobHead,
      jobs.map((j) => {
        const failed = j.runs.filter((r) => r.status === 'failed').length;
        const sum = (k: 'rowsIn' | 'rowsOut' | 'rowsRejected') => j.runs.reduce((n, r) => n + r[k], 0);
        const last = j.runs[0];
        return [
          code(j.job),
          fig(`job.${j.job}.runs`, j.runs.length, f.count(j.runs.length)),
          fig(`job.${j.job}.failed`, failed, f.count(failed)),
          f.count(sum('rowsIn')),
          fig(`job.${j.job}.rowsOut`, sum('rowsOut'), f.count(sum('rowsOut'))),
          f.count(sum('rowsRejected')),
          last ? f.date(last.startedAt) : m.never,
          last?.status ?? '–',
        ];
      }),
      ['left', 'right', 'right', 'right', 'right', 'right', 'left', 'left'],
    );
  const history = data.history ?? [];
  const ingestion = history.filter((j) => /^(stream|ingest):/.test(j.job));
  const transformation = history.filter((j) => /^(model|check):/.test(j.job));
  return {
    slug: 'monitoring',
    title: t.title,
    lead: t.lead,
    sections: [
      {
        id: 'resources',
        title: t.resources,
        blocks: [p(t.resourcesText), table(t.resourceHead, resourceRows), ...diagram('monitoring', t.monitoringDiagram)],
      },
      {
        id: 'metrics',
        title: t.metrics,
        blocks: [
          p(t.metricsText(data.metrics.length)),
          table(
            t.metricHead,
            data.metrics.map((x) => [code(x.name), x.type, x.labels.join(', '), x.help]),
          ),
        ],
      },
      {
        id: 'logs',
        title: t.logs,
        blocks: [
          p(t.logsText),
          table(
            t.logHead,
            t.logFields.map(([k, v]) => [code(k), v]),
          ),
        ],
      },
      {
        id: 'slos',
        title: t.slos,
        blocks: data.sloStatus
          ? [p(t.slosText), asOf, table(t.sloHead, sloRows, ['left', 'left', 'right', 'left', 'right', 'right', 'right', 'left'])]
          : [
              p(t.slosText),
              table(
                t.sloHead.slice(0, 4),
                data.slos.map((s) => [s.name, s.sli, f.percent(s.objective), `${s.windowDays}d rolling`]),
              ),
              missing(m.notRun),
            ],
      },
      { id: 'alerts', title: t.alerts, blocks: [p(t.alertsText), table(t.alertHead, alertRows)] },
      { id: 'examples', title: t.examples, blocks: examples({ data, m, f, diagram, asOf }) },
      {
        id: 'pipelines',
        title: t.pipelines,
        blocks: data.history
          ? [
              p(t.pipelinesText),
              asOf,
              h('pipelines-ingestion', t.ingestion),
              ingestion.length > 0 ? jobTable(ingestion) : p(t.noJobs),
              h('pipelines-transformation', t.transformation),
              transformation.length > 0 ? jobTable(transformation) : p(t.noJobs),
            ]
          : [p(t.pipelinesText), missing(m.notRun)],
      },
      {
        id: 'runbooks',
        title: t.runbooks,
        blocks: [
          p(t.runbooksText),
          ...books.flatMap((b) => [
            h(`runbook-${b.name}`, b.title),
            p(`${t.means}: ${b.means}`),
            p(`${t.impact}: ${b.impact}`),
            list(
              b.steps.map((s) => inlineCode(s)),
              true,
            ),
          ]),
        ],
      },
      {
        id: 'cloud-deployment',
        title: t.deploy,
        blocks: [
          p(t.deployText),
          table(
            t.deployHead,
            t.deployRows.map(([k, v]) => [k, inlineCode(v)]),
          ),
        ],
      },
    ],
  };
}

function examples({ data, m, f }: PageContext): Block[] {
  const t = m.monitoring;
  if (!data.history || !data.sloStatus) return [missing(m.notRun)];
  const all = data.history.flatMap((j) => j.runs.map((r) => ({ job: j.job, ...r }))).sort((a, b) => b.startedAt.localeCompare(a.startedAt));
  const items: Inline[][] = [];
  const failed = all.find((r) => r.status === 'failed');
  if (failed)
    items.push([fig('example.failedRun', failed.runId, t.exFailedRun(failed.job, f.date(failed.startedAt), failed.error ?? '?'))]);
  const rejected = all.find((r) => r.job.startsWith('ingest:') && r.rowsRejected > 0);
  if (rejected)
    items.push([
      fig(
        'example.rejected',
        rejected.runId,
        t.exRejected(rejected.job, f.date(rejected.startedAt), f.count(rejected.rowsRejected), f.count(rejected.rowsOut)),
      ),
    ]);
  const completeness = data.sloStatus.find((s) => s.sli === 'completeness');
  if (completeness)
    items.push([
      completeness.sliValue === null
        ? t.exLate(completeness.name, completeness.note ?? '')
        : fig(`example.completeness`, completeness.sliValue, t.exLateValue(completeness.name, f.percent(completeness.sliValue))),
    ]);
  const spent = data.sloStatus
    .filter((s) => s.errorBudgetRemaining !== null && s.errorBudgetRemaining < 1)
    .sort((a, b) => (a.errorBudgetRemaining as number) - (b.errorBudgetRemaining as number))[0];
  if (spent)
    items.push([
      fig('example.burn', spent.name, t.exBurn(spent.name, f.percent(spent.errorBudgetRemaining, 1), f.burn(spent.burnRates['1h']))),
    ]);
  if (items.length === 0) return [p(t.exNone)];
  return [p(t.examplesText), list(items)];
}

// ------------------------------------------------------------------------------------------------ mesh

function meshPage({ data, m, f, asOf }: PageContext): Page {
  const t = m.mesh;
  const project = data.project;
  const domainRows: Cell[][] = project.domains.map((d) => [
    d.name,
    d.config.owner.team,
    d.config.onCall ?? '–',
    d.config.costCenter ?? '–',
    project.sources
      .filter((s) => s.domain === d.name)
      .map((s) => s.name)
      .join(', ') || '–',
    project.products
      .filter((p) => p.domain === d.name)
      .map((p) => p.name)
      .join(', ') || '–',
  ]);
  const catalog = data.catalog;
  const productRows: Cell[][] = project.products.map((pr) => {
    const id = `${pr.domain}.${pr.name}`;
    const c = catalog?.find((x) => x.product === id);
    const fresh = !c
      ? '–'
      : c.freshness.ageSeconds === null
        ? t.neverBuilt
        : c.freshness.withinSlo === false
          ? t.freshLate(f.age(c.freshness.ageSeconds), c.freshness.slo ?? '')
          : t.freshAgo(f.age(c.freshness.ageSeconds));
    return [
      fig('product', id, id),
      pr.dataset.zone,
      pr.owner ?? '–',
      [code(sqlName(pr.dataset)), ' (SQL), Parquet'],
      pr.settings.consumers.join(', ') || '–',
      fresh,
    ];
  });
  const contractRows: Cell[][] = project.products.map((pr) => [
    pr.contract.id,
    fig(`product.${pr.domain}.${pr.name}.version`, pr.contract.version, pr.contract.version),
    pr.contract.status,
    code(pr.contractFile),
    (pr.contract.slaProperties ?? []).map((s) => `${s.property} ${String(s.value)}${s.unit ? ` ${s.unit}` : ''}`).join('; ') || '–',
  ]);
  const qualityRows: Cell[][] = (catalog ?? []).map((c) => [
    c.product,
    f.count(c.quality.checks),
    f.count(c.quality.runLast7Days),
    f.count(c.quality.passedLast7Days),
    fig(`product.${c.product}.quality`, c.quality.score, c.quality.score === null ? '–' : f.percent(c.quality.score, 1)),
  ]);
  const gaps = [...data.gaps].map((g, i) => ({ g, i })).sort((a, b) => gapRank(a.g.kind) - gapRank(b.g.kind) || a.i - b.i);
  const gapRows: Cell[][] = gaps.map(({ g }) => [
    String(gapRank(g.kind) + 1),
    fig('gap', `${g.kind}|${g.subject}|${g.detail}`, g.kind),
    g.subject,
    g.detail,
    code(g.file),
  ]);
  return {
    slug: 'mesh',
    title: t.title,
    lead: t.lead,
    sections: [
      { id: 'domains', title: t.domains, blocks: [table(t.domainHead, domainRows)] },
      { id: 'products', title: t.products, blocks: [asOf, table(t.productHead, productRows)] },
      { id: 'contracts', title: t.contracts, blocks: [table(t.contractHead, contractRows)] },
      {
        id: 'quality',
        title: t.quality,
        blocks: catalog
          ? [p(t.qualityText), asOf, table(t.qualityHead, qualityRows, ['left', 'right', 'right', 'right', 'right'])]
          : [missing(m.notRun)],
      },
      {
        id: 'gaps',
        title: t.gaps,
        blocks: [
          p(t.gapsText),
          p(`${GAP_PRIORITY.map((k, i) => `${i + 1}. ${k}`).join(' · ')}`),
          gaps.length > 0 ? table(t.gapHead, gapRows) : p(t.noGaps),
          ...(data.gapsEvaluated.history ? [] : [missing(t.gapsNoHistory)]),
        ],
      },
      { id: 'costs', title: t.costs, blocks: costBlocks({ data, m, f, asOf }) },
      { id: 'cost-benefit', title: t.costBenefit, blocks: benefitBlocks({ data, m, f }) },
    ],
  };
}

function costBlocks({ data, m, f, asOf }: Pick<PageContext, 'data' | 'm' | 'f' | 'asOf'>): Block[] {
  const t = m.mesh;
  const c = data.cost;
  if (!c) return [missing(...inlineCode(m.notYetCost))];
  const cur = c.byProduct.currency;
  const money = (key: string, v: number | undefined) => (v === undefined ? '–' : fig(key, v, f.money(v, cur)));
  const r = c.byProduct;
  return [
    p(t.costsText),
    asOf,
    table(
      t.costHead,
      r.rows.map((x) => [
        x.name,
        x.domain ?? '–',
        money(`cost.product.${x.name}.direct`, x.direct),
        money(`cost.product.${x.name}.upstream`, x.upstream),
        money(`cost.product.${x.name}.monthToDate`, x.monthToDate),
        money(`cost.product.${x.name}.forecast`, x.forecast),
      ]),
      ['left', 'left', 'right', 'right', 'right', 'right'],
    ),
    p(
      fig(
        'cost.total.monthToDate',
        r.total.monthToDate,
        t.costTotal(
          r.month,
          f.money(r.total.monthToDate, cur),
          f.money(r.total.forecast, cur),
          f.money(r.shared.monthToDate, cur),
          r.region,
          r.priceSheet.files.join(' + '),
        ),
      ),
    ),
    table(
      t.domainCostHead,
      c.byDomain.rows.map((x) => [
        x.name,
        money(`cost.domain.${x.name}.monthToDate`, x.monthToDate),
        money(`cost.domain.${x.name}.forecast`, x.forecast),
      ]),
      ['left', 'right', 'right'],
    ),
  ];
}

function benefitBlocks({ data, m, f }: Pick<PageContext, 'data' | 'm' | 'f'>): Block[] {
  const t = m.mesh;
  const b = data.cost?.benefit;
  if (!b) return [missing(...inlineCode(m.notYetCost))];
  return [
    p(...inlineCode(t.benefitText)),
    table(
      t.benefitHead,
      b.products.map((x) => [
        fig(`benefit.${x.product}.rank`, x.rank, String(x.rank)),
        x.product,
        fig(`benefit.${x.product}.verdict`, x.verdict, x.verdict),
        f.money(x.cost.monthToDate, b.currency),
        x.why,
      ]),
      ['right', 'left', 'left', 'right', 'left'],
    ),
    h('upkeep', t.upkeep),
    table(
      t.upkeepHead,
      b.sources.map((x) => [String(x.rank), x.source, f.count(x.failedRuns), f.count(x.quarantinedRows), x.why]),
      ['right', 'left', 'right', 'right', 'left'],
    ),
  ];
}

function spendBlocks({ data, m, f }: Pick<PageContext, 'data' | 'm' | 'f'>): Block[] {
  const t = m.governance;
  const c = data.cost;
  if (!c) return [missing(...inlineCode(m.notYetCost))];
  const mon = c.monitoring;
  const cur = mon.currency;
  const budgets: Block[] =
    c.budgets.length === 0
      ? [p(t.noBudgets)]
      : [
          table(
            t.budgetHead,
            c.budgets.map((b) => [
              `${b.scope} ${b.name}`,
              b.owner,
              f.money(b.monthly, cur),
              fig(`budget.${b.scope}.${b.name}.monthToDate`, b.monthToDate, f.money(b.monthToDate, cur)),
              f.percent(b.spent, 2),
              b.reached.map((x) => f.percent(x, 0)).join(', ') || '–',
              b.forecastOverrun ? m.yes : m.no,
            ]),
            ['left', 'left', 'right', 'right', 'right', 'left', 'left'],
          ),
        ];
  return [
    p(t.spendText),
    table(
      t.spendHead,
      mon.components.map((x) => [
        x.component,
        f.count(x.logs.quantity),
        f.count(x.logs.bytes),
        f.count(Math.round(x.metrics.quantity)),
        f.count(x.metrics.series),
        f.count(x.lineage.quantity),
        fig(`monitoring.${x.component}.cost`, x.cost, f.money(x.cost, cur)),
        fig(`monitoring.${x.component}.saved`, x.savedCost, f.money(x.savedCost, cur)),
      ]),
      ['left', 'right', 'right', 'right', 'right', 'right', 'right', 'right'],
    ),
    p(fig('monitoring.total.saved', mon.total.saved, t.spendTotal(mon.month, f.money(mon.total.cost, cur), f.money(mon.total.saved, cur)))),
    h('budgets', t.budgets),
    ...budgets,
  ];
}

// ------------------------------------------------------------------------------------------------ governance

function governancePage({ data, m, f }: PageContext): Page {
  const t = m.governance;
  const project = data.project;
  const counts = new Map<string, number>();
  const add = (c: string | undefined) => counts.set(c ?? 'unclassified', (counts.get(c ?? 'unclassified') ?? 0) + 1);
  for (const pr of project.products) for (const col of pr.contract.schema[0]?.properties ?? []) add(col.classification);
  for (const s of project.sources)
    for (const col of ('schema' in s.config ? (s.config.schema ?? []) : []) as { classification?: string }[]) add(col.classification);
  const order = ['public', 'internal', 'confidential', 'pii', 'pci', 'unclassified'];
  const classRows: Cell[][] = [...counts.entries()]
    .sort((a, b) => order.indexOf(a[0]) - order.indexOf(b[0]))
    .map(([c, n]) => [c, fig(`classification.${c}`, n, f.count(n)), t.protection[c] ?? '–']);
  const violations = data.policyViolations;
  const declared = data.policies;
  const policyBlocks: Block[] =
    violations === undefined
      ? [missing(t.policiesNotEvaluated)]
      : declared.length === 0
        ? [p(t.noPolicies)]
        : [
            table(
              t.declaredHead,
              declared.map((d) => {
                // The project's own policies report as `<id> (<file>)`.
                const n = violations.filter((v) => v.policy === d.id || v.policy === `${d.id} (${d.file})`).length;
                return [
                  code(d.id),
                  d.severity,
                  code(d.file),
                  fig(`policy.${d.id}.violations`, n, n === 0 ? t.policyOk : t.policyViolated(n)),
                ];
              }),
              ['left', 'left', 'left', 'right'],
            ),
            ...(violations.length === 0
              ? [p(fig('policies.violations', 0, t.noViolations(declared.length)))]
              : [
                  table(
                    t.policyHead,
                    violations.map((v) => [v.policy, v.severity, [code(v.file), ` ${v.path}`], v.found, v.expected]),
                  ),
                ]),
          ];
  const logging = project.config.logging;
  const logRows: Cell[][] = [
    ['*', logging.level, '100%'],
    ...Object.entries(logging.components).map(([c, s]) => [c, s.level ?? logging.level, f.percent(s.sampleRate, 0)] as Cell[]),
  ];
  return {
    slug: 'governance',
    title: t.title,
    lead: t.lead,
    sections: [
      { id: 'personas', title: t.personas, blocks: personaBlocks({ data, m, f }) },
      { id: 'access-matrix', title: t.matrix, blocks: matrixBlocks({ data, m }) },
      {
        id: 'classifications',
        title: t.classifications,
        blocks: [p(t.classificationsText), table(t.classHead, classRows, ['left', 'right', 'left'])],
      },
      { id: 'policies', title: t.policies, blocks: [p(t.policiesText), ...policyBlocks] },
      { id: 'audit', title: t.audit, blocks: auditBlocks({ data, m, f }) },
      { id: 'spend', title: t.spend, blocks: [...spendBlocks({ data, m, f }), p(t.spendControls), table(t.logHead, logRows)] },
    ],
  };
}

function personaBlocks({ data, m, f }: Pick<PageContext, 'data' | 'm' | 'f'>): Block[] {
  const t = m.governance;
  const g = data.governance;
  if (!g) return [missing(m.notYetGovernance)];
  return [
    p(...inlineCode(t.personasText)),
    table(
      t.personaHead,
      g.personas.map((x) => [
        fig('persona', x.name, x.name),
        x.description,
        join(x.members.map(code), ', '),
        x.api.join(', '),
        x.raw ? m.yes : m.no,
        Object.entries(x.classifications)
          .map(([c, l]) => `${c}: ${l}`)
          .join(', ') || '–',
        f.count(x.rowFilters),
      ]),
      ['left', 'left', 'left', 'left', 'left', 'left', 'right'],
    ),
  ];
}

function matrixBlocks({ data, m }: Pick<PageContext, 'data' | 'm'>): Block[] {
  const g = data.governance;
  if (!g) return [missing(m.notYetGovernance)];
  const cell = new Map(g.matrix.map((r) => [`${r.persona}|${r.dataset}`, r]));
  return [
    p(...inlineCode(m.governance.matrixText)),
    table(
      ['dataset', ...g.personas.map((x) => x.name)],
      g.datasets.map((d) => [
        code(d),
        ...g.personas.map((x) => {
          const r = cell.get(`${x.name}|${d}`);
          if (!r) return '–';
          const text = `${r.access}${r.rowFilter ? '+rows' : ''}`;
          return fig(`access.${x.name}.${d}`, text, text);
        }),
      ]),
    ),
  ];
}

function auditBlocks({ data, m, f }: Pick<PageContext, 'data' | 'm' | 'f'>): Block[] {
  const t = m.governance;
  const g = data.governance;
  if (!g) return [missing(m.notYetGovernance)];
  if (!g.audit) return [p(t.auditText), missing(m.notRun)];
  const a = g.audit;
  const rows: Cell[][] = [
    [t.auditRecords, fig('audit.records', a.records, f.count(a.records))],
    [t.auditChain, fig('audit.ok', a.ok, a.ok ? t.auditIntact : t.auditBroken(a.problems.length))],
    [t.auditHeadHash, code(a.head)],
    [t.auditFirst, a.first ? f.date(a.first) : t.auditNone],
    [t.auditLast, a.last ? f.date(a.last) : t.auditNone],
    ...Object.entries(a.byKind).map(([k, n]) => [k, fig(`audit.kind.${k}`, n, f.count(n))] as Cell[]),
  ];
  return [p(t.auditText), table(t.auditHead, rows)];
}

// ------------------------------------------------------------------------------------------------ preparation

function preparationPage({ data, m }: PageContext): Page {
  const t = m.preparation;
  const project = data.project;
  const cfg = project.config;
  const uniq = (xs: (string | undefined)[]) => [...new Set(xs.filter((x): x is string => Boolean(x)))].join(', ');
  const formats = uniq(project.sources.map((s) => ('format' in s.config ? (s.config.format as string) : undefined)));
  const pgp = project.sources.some((s) => 'pgp' in s.config && s.config.pgp);
  const materialized = uniq(project.products.map((x) => x.materialized));
  const gold = project.products.filter((x) => x.dataset.zone === 'gold').map((x) => sqlName(x.dataset));
  const tech: Record<keyof Messages['preparation']['roleNames'], string> = {
    platform: uniq([
      `engine ${cfg.engine.kind}`,
      `lake ${cfg.lake.kind}`,
      `metadata ${cfg.metadata.kind}`,
      `bus ${cfg.bus?.kind ?? 'memory'}`,
      ...project.sources.map((s) => `source ${s.config.kind}`),
      'Prometheus',
      'OpenLineage',
    ]),
    domain: uniq([
      `${project.products.length} ODCS contracts`,
      `models: ${materialized}`,
      formats ? `files: ${formats}` : undefined,
      pgp ? 'OpenPGP' : undefined,
      'SQL (DuckDB dialect)',
    ]),
    analyst: uniq(['finmesh query / serve', 'Power BI', ...gold.slice(0, 4)]),
    oncall: uniq([
      `${data.slos.length} SLOs`,
      `${new Set(data.alerts.map((a) => a.alert)).size} alerts`,
      `${runbookEntries().length} runbooks`,
      'finmesh runs / slo / lineage',
    ]),
  };
  const roles = Object.keys(t.roleNames) as (keyof typeof tech)[];
  const drills = Object.entries(t.drillRows).map(([k, [name, how, signal]]) => {
    const book = { stream: 'source-lag', file: 'quarantine-spike', contract: 'data-quality-error', silent: 'watcher-silent' }[k] ?? '';
    return [name, inlineCode(how), signal, link(`monitoring#runbook-${book}`, book)] as Cell[];
  });
  return {
    slug: 'preparation',
    title: t.title,
    lead: t.lead,
    sections: [
      {
        id: 'roles',
        title: t.roles,
        blocks: [
          table(
            t.roleHead,
            roles.map((r) => [t.roleNames[r], t.roleOwns[r], t.roleSkills[r], tech[r]]),
          ),
        ],
      },
      {
        id: 'learning-path',
        title: t.path,
        blocks: [
          p(t.pathText),
          table(
            t.labHead,
            t.labs.map(([w, lab, cmd, done]) => [w, lab, join(cmd.split('; ').map(code), '; '), done]),
          ),
        ],
      },
      { id: 'game-days', title: t.drills, blocks: [p(t.drillsText), table(t.drillHead, drills)] },
      { id: 'onboarding', title: t.onboarding, blocks: [list(t.onboardingItems.map(inlineCode))] },
      {
        id: 'migration',
        title: t.migration,
        blocks: [
          p(t.migrationText),
          table(
            t.migrationHead,
            t.migrationRows.map((r) => r.map(inlineCode)),
          ),
        ],
      },
    ],
  };
}

// ------------------------------------------------------------------------------------------------ helpers

function join<T>(xs: T[], sep: string): (T | string)[] {
  return xs.flatMap((x, i) => (i === 0 ? [x] : [sep, x]));
}

/** Text with `backticks` as inline code. */
function inlineCode(s: string): (string | { code: string })[] {
  return s
    .split(/(`[^`]+`)/)
    .filter(Boolean)
    .map((part) => (part.startsWith('`') && part.endsWith('`') ? code(part.slice(1, -1)) : part));
}
