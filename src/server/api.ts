import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { findProduct, productId, sqlName } from '../config/project.js';
import { FinmeshError } from '../core/errors.js';
import { costBenefitOf } from '../cost/benefit.js';
import { COST_DIMENSIONS, type CostDimension, costReport, monthPeriod, pricedUsage } from '../cost/report.js';
import { mermaidDiagram } from '../docs/diagram.js';
import { accessMatrix } from '../governance/matrix.js';
import type { Context } from '../jobs/context.js';
import { exploreLineage } from '../lineage/explore.js';
import { LineageGraph } from '../lineage/graph.js';
import { marquezLineage } from '../lineage/marquez.js';
import type { RunEvent } from '../lineage/openlineage.js';
import { openLineageErrors } from '../lineage/validate-event.js';
import { contractHistory } from '../mesh/contract-history.js';
import { buildCatalog, type CatalogEntry } from '../mesh/reports.js';
import { verifyAuditChain } from '../metadata/audit-chain.js';
import { AUDIT_KINDS, type AuditKind } from '../metadata/metadata-store.js';
import { evaluateSlos, loadSlos } from '../observability/slo.js';
import { runDetail, runHistory } from '../runs/history.js';
import { ARCHITECTURE_THEMES, ArchitectureDrawing, type ArchitectureTheme } from './architecture-drawing.js';
import { liveEvents, RunWatcher } from './live-events.js';
import { lineageGraph, type Overview, openAlerts, overview, partnerFiles, productDetail } from './read-models.js';
import { principal, type ServedGovernance } from './served-governance.js';
import { callerOf } from './server.js';

/** Largest lineage event accepted (column lineage of a wide table runs to hundreds of kilobytes): 413 above. */
const LINEAGE_BODY_LIMIT = 8 * 1024 * 1024;

/** A route of `/api/v1`, as registered and as the OpenAPI document describes it. */
interface ApiRoute {
  method: 'GET' | 'POST';
  path: string;
  summary: string;
  /** What a caller's persona must be allowed (see docs/governance.md); several: any of them. */
  permission: string | readonly string[];
  query?: { name: string; description: string; required?: boolean; type?: 'string' | 'integer' }[];
  /** The CLI command whose `--json` prints the same answer. */
  cli?: string;
  /** Answers a stream of server-sent events (`text/event-stream`), not one JSON document. */
  stream?: boolean;
  /** Largest body accepted (413 above); Fastify's default otherwise. */
  bodyLimit?: number;
  handler: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
}

/**
 * What the caller may read, when the server authenticates callers: the datasets (SQL names) its persona may read,
 * each column with what the persona sees of it (`clear`, `masked (<rule>)`, `tokenised`…). Undefined: everything
 * (an embedded server, as the demo's).
 */
export interface ApiAccess {
  readable(req: FastifyRequest): Promise<Map<string, Map<string, string>> | undefined>;
}

/** The API every page of the console reads, and the CLI's `--json` shares: one table, registered and documented from it. */
export function registerApi(
  app: FastifyInstance,
  ctx: Context,
  options: {
    access?: ApiAccess | undefined;
    governance?: ServedGovernance | undefined;
    /** Draw the architecture diagram when the server starts (`eager`), or at its first request (default). */
    drawArchitecture?: 'eager' | 'lazy';
  } = {},
): void {
  const readable = async (req: FastifyRequest) => options.access?.readable(req);
  const q = (req: FastifyRequest) => req.query as Record<string, string | undefined>;
  const p = (req: FastifyRequest) => req.params as Record<string, string>;
  const int = (v: string | undefined, fallback: number, name: string) => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new FinmeshError('DATA_INVALID', `${name}: expected a positive integer, found "${v}"`);
    return n;
  };
  const events = async () => (await ctx.meta.lineage.list()).map((r) => r.event);
  const mermaid = mermaidDiagram(ctx.project);
  const drawing = new ArchitectureDrawing(mermaid, join(ctx.project.root, '.finmesh', 'cache', 'architecture'), ctx.log);
  if (options.drawArchitecture === 'eager') drawing.start();
  app.addHook('onClose', async () => drawing.close());
  const routes: ApiRoute[] = [
    {
      method: 'GET',
      path: '/api/v1/overview',
      summary: 'Domains, every product with its health (rows, freshness, last run, checks, SLO budget), totals and open alerts',
      permission: 'catalog',
      handler: async (req) => visibleOverview(await overview(ctx), await readable(req)),
    },
    {
      method: 'GET',
      path: '/api/v1/events',
      summary:
        'Server-sent events (text/event-stream): `event: runs` whenever a run starts or ends, in this process or another sharing the metadata store; the console’s overview and runs page reload on it instead of polling',
      // The events name nothing: open to whoever reads either page (the overview needs catalog, the runs page runs).
      permission: ['catalog', 'runs'],
      stream: true,
      handler: liveEvents(app, new RunWatcher(ctx.meta.runs)),
    },
    {
      method: 'GET',
      path: '/api/v1/catalog',
      summary: 'Every product: owner, contract, schema with classifications, SLOs, freshness, quality score, neighbours',
      permission: 'catalog',
      cli: 'finmesh catalog --json',
      handler: async (req) => ({ products: visibleCatalog(await buildCatalog(ctx), await readable(req)) }),
    },
    {
      method: 'GET',
      path: '/api/v1/products/:product',
      summary:
        'One product (domain.name or its SQL name): catalog entry, contract, SLOs with error budget over time, quality per run, freshness history, runs',
      permission: 'catalog',
      handler: async (req) => {
        const detail = await productDetail(ctx, p(req).product ?? '');
        const seen = await readable(req);
        if (!seen) return detail;
        const columns = seen.get(detail.dataset);
        if (!columns)
          throw new FinmeshError('PERMISSION', `your persona may not read ${detail.dataset} (product ${detail.catalog.product})`);
        return { ...detail, catalog: withAccess(detail.catalog, columns) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/products/:product/contract-history',
      summary:
        "A product's contract versions as finmesh met them (version, hash, when first seen), oldest first, and between consecutive versions the breaking and other changes (`finmesh contract diff`'s rules) with the version verdict",
      permission: 'catalog',
      cli: 'finmesh contract history <product> --json',
      handler: async (req) => {
        const product = findProduct(ctx.project, p(req).product ?? '');
        const seen = await readable(req);
        if (seen && !seen.has(sqlName(product.dataset)))
          throw new FinmeshError('PERMISSION', `your persona may not read ${sqlName(product.dataset)} (product ${productId(product)})`);
        return contractHistory(product, ctx.meta.contracts);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/runs',
      summary: 'Runs per job, newest first: status, duration, rows in/out/rejected, the error of a failed run',
      permission: 'runs',
      cli: 'finmesh runs --json',
      query: [
        { name: 'job', description: 'only this job, e.g. model:payments.transactions' },
        { name: 'limit', description: 'runs per job (default 20)', type: 'integer' },
      ],
      handler: async (req) => ({ jobs: await runHistory(ctx, { job: q(req).job, limit: int(q(req).limit, 20, 'limit') }) }),
    },
    {
      method: 'GET',
      path: '/api/v1/costs',
      summary:
        'What the project costs, priced from metered usage and the price sheet: month to date and forecast per product, domain, component, source or cost centre (the figures /metrics carries as gauges)',
      permission: 'metrics',
      cli: 'finmesh cost --json',
      query: [
        { name: 'by', description: `${COST_DIMENSIONS.join(', ')} (default product)` },
        { name: 'month', description: 'YYYY-MM (default this month, UTC)' },
      ],
      handler: async (req) => {
        const by = (q(req).by ?? 'product') as CostDimension;
        if (!COST_DIMENSIONS.includes(by))
          throw new FinmeshError('DATA_INVALID', `by: expected one of ${COST_DIMENSIONS.join(', ')}, found "${q(req).by}"`);
        const period = monthPeriod(monthParam(q(req).month), new Date(ctx.clock.now()));
        return costReport(ctx.project, await pricedUsage(ctx.project, ctx.meta.usage, period), by);
      },
    },
    {
      method: 'GET',
      path: '/api/v1/costs/benefit',
      summary:
        'Cost against use per product (reads and readers from lineage, downstream products, declared consumers, SLOs, business value), ranked from the least worth keeping with each rank explained; sources by upkeep',
      permission: 'metrics',
      cli: 'finmesh cost benefit --json',
      query: [{ name: 'month', description: 'YYYY-MM (default this month, UTC)' }],
      handler: async (req) => costBenefitOf(ctx, monthParam(q(req).month)),
    },
    {
      method: 'GET',
      path: '/api/v1/runs/:runId',
      summary:
        'One run: status, duration, rows, error; the runs it started; the checks it ran; the tail of its log (info, warning and error lines, at most 50, secrets and PII redacted)',
      cli: 'finmesh runs <runId> --json',
      permission: 'runs',
      handler: async (req) => runDetail(ctx, p(req).runId ?? ''),
    },
    {
      method: 'GET',
      path: '/api/v1/slos',
      summary: 'SLOs with their SLI, objective, error budget remaining and burn rates',
      permission: 'runs',
      cli: 'finmesh slo --json',
      handler: async () => ({ slos: await evaluateSlos(loadSlos(ctx.project), ctx.meta) }),
    },
    {
      method: 'GET',
      path: '/api/v1/alerts',
      summary: 'Alerts open now (burning SLO budgets, failing jobs, failed error-level checks, stale products, missing partner files)',
      permission: 'runs',
      handler: async () => ({ alerts: await openAlerts(ctx) }),
    },
    {
      method: 'GET',
      path: '/api/v1/partner-files',
      summary: 'Per partner file source: the file ledger, duplicates, quarantined rows with reason and raw line, days with missing files',
      permission: 'runs',
      handler: async () => ({ sources: await partnerFiles(ctx) }),
    },
    {
      method: 'GET',
      path: '/api/v1/lineage/graph',
      summary: 'The whole lineage graph: datasets, jobs, dataset edges through jobs, column edges with their transformation',
      permission: 'lineage:read',
      handler: async () => lineageGraph(ctx),
    },
    {
      method: 'GET',
      path: '/api/v1/lineage/explore',
      summary: 'Lineage of a dataset or column, upstream or downstream (with the products and consumers a change reaches)',
      permission: 'lineage:read',
      cli: 'finmesh lineage <target> [--downstream] --json',
      query: [
        { name: 'target', description: '<dataset>[.<column>], e.g. payments_gold.daily_volume_by_method.total_amount', required: true },
        { name: 'direction', description: 'upstream (default) or downstream' },
        { name: 'depth', description: 'hops to follow (default 20)', type: 'integer' },
      ],
      handler: async (req) => {
        const { target, direction = 'upstream' } = q(req);
        if (!target) throw new FinmeshError('DATA_INVALID', 'target is required: <dataset>[.<column>]');
        if (direction !== 'upstream' && direction !== 'downstream')
          throw new FinmeshError('DATA_INVALID', `direction: expected upstream or downstream, found "${direction}"`);
        return exploreLineage(LineageGraph.fromEvents(await events()), ctx.project, target, direction, int(q(req).depth, 20, 'depth'));
      },
    },
    {
      method: 'GET',
      path: '/api/v1/lineage',
      summary: 'Lineage graph around a node, in the Marquez API shape',
      permission: 'lineage:read',
      query: [
        { name: 'nodeId', description: 'dataset:<namespace>:<name> or job:<namespace>:<name>', required: true },
        { name: 'depth', description: 'hops (default 20)', type: 'integer' },
      ],
      handler: async (req) => {
        const { nodeId } = q(req);
        if (!nodeId) throw new FinmeshError('DATA_INVALID', 'nodeId is required (dataset:<namespace>:<name> or job:<namespace>:<name>)');
        const result = marquezLineage(LineageGraph.fromEvents(await events()), nodeId, int(q(req).depth, 20, 'depth'));
        if (!result) throw new FinmeshError('NOT_FOUND', `no node ${nodeId}`);
        return result;
      },
    },
    {
      method: 'POST',
      path: '/api/v1/lineage',
      summary: 'Receive an OpenLineage RunEvent (any OpenLineage HTTP transport can send here)',
      permission: 'lineage:write',
      bodyLimit: LINEAGE_BODY_LIMIT,
      handler: async (req, reply) => {
        const e = req.body as Partial<RunEvent> | undefined;
        // Only events the OpenLineage schema accepts are stored (and later exported, and sent on).
        const errors = openLineageErrors(e);
        if (errors.length > 0 || !e?.eventType || !e.eventTime || !e.run?.runId || !e.job?.namespace || !e.job?.name) {
          throw new FinmeshError(
            'DATA_INVALID',
            `expected an OpenLineage 2-0-2 RunEvent${errors.length > 0 ? `: ${errors.join('; ')}` : ' with eventType, eventTime, run.runId, job.namespace and job.name'}`,
          );
        }
        await ctx.meta.lineage.record({
          runId: e.run.runId,
          eventType: e.eventType,
          eventTime: e.eventTime,
          jobNamespace: e.job.namespace,
          jobName: e.job.name,
          event: e,
        });
        return reply.code(201).send();
      },
    },
    {
      method: 'GET',
      path: '/api/v1/architecture',
      summary:
        "The project's architecture as a Mermaid flowchart (domains, sources, zones, products, consumers, platform), and `svg`: the same drawn on the server in the theme asked for (null until drawn, or where no Chromium is installed)",
      permission: 'catalog',
      cli: 'finmesh diagram',
      query: [{ name: 'theme', description: `${ARCHITECTURE_THEMES.join(' or ')} (default light): the theme of \`svg\`` }],
      handler: async (req) => {
        const theme = q(req).theme ?? 'light';
        if (!(ARCHITECTURE_THEMES as readonly string[]).includes(theme))
          throw new FinmeshError('DATA_INVALID', `theme: expected ${ARCHITECTURE_THEMES.join(' or ')}, found "${theme}"`);
        return { mermaid, svg: drawing.svg(theme as ArchitectureTheme) ?? null };
      },
    },
  ];
  const governance = options.governance;
  if (governance) routes.push(...governanceRoutes(governance));
  routes.push(...auditRoutes(ctx));
  for (const r of routes)
    app.route({
      method: r.method,
      url: r.path,
      config: { permission: r.permission },
      ...(r.bodyLimit === undefined ? {} : { bodyLimit: r.bodyLimit }),
      handler: r.handler,
    });
  const doc = openApiDocument(routes, ctx.project.config.name);
  app.get('/api/v1/openapi.json', { config: { permission: 'public' } }, async () => doc);
}

/** A `month` request parameter: YYYY-MM, or undefined for this month. */
function monthParam(month: string | undefined): string | undefined {
  if (month !== undefined && !/^\d{4}-(0[1-9]|1[0-2])$/.test(month))
    throw new FinmeshError('DATA_INVALID', `month: expected a month such as 2026-11, found "${month}"`);
  return month;
}

/** OpenAPI 3.1 from the route table: the paths, their parameters, and the permission each needs. */
function openApiDocument(routes: ApiRoute[], project: string): unknown {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...r.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const op = {
      summary: r.summary,
      operationId: `${r.method.toLowerCase()}${r.path
        .replace('/api/v1', '')
        .replace(/[/:-](\w)/g, (_m, c: string) => c.toUpperCase())
        .replace(/[^A-Za-z]/g, '')}`,
      ...(r.cli ? { description: `The same answer as \`${r.cli}\`.` } : {}),
      'x-finmesh-permission': r.permission,
      parameters: [
        ...pathParams,
        ...(r.query ?? []).map((x) => ({
          name: x.name,
          in: 'query',
          required: x.required ?? false,
          description: x.description,
          schema: { type: x.type ?? 'string' },
        })),
      ],
      ...(r.method === 'POST' ? { requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } } } : {}),
      responses: {
        [r.method === 'POST' ? '201' : '200']: {
          description: r.stream ? 'A stream of server-sent events, open until the client closes it' : 'OK',
          ...(r.method === 'GET'
            ? {
                content: r.stream
                  ? { 'text/event-stream': { schema: { type: 'string' } } }
                  : { 'application/json': { schema: { type: 'object' } } },
              }
            : {}),
        },
        '400': { $ref: '#/components/responses/Error' },
        '401': { $ref: '#/components/responses/Error' },
        '403': { $ref: '#/components/responses/Error' },
        '404': { $ref: '#/components/responses/Error' },
      },
    };
    paths[path] = { ...paths[path], [r.method.toLowerCase()]: op };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: `finmesh API — ${project}`,
      version: '1',
      description: 'The JSON routes the web console reads; `finmesh <command> --json` prints the same answers where a command exists.',
    },
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an API token of governance/access.yaml' } },
      responses: {
        Error: {
          description: 'An error: its finmesh code and a message that says what was expected and what was found',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['error', 'message'],
                properties: { error: { type: 'string' }, message: { type: 'string' } },
              },
            },
          },
        },
      },
    },
    security: [{ bearer: [] }],
  };
}

/** The catalog as a persona sees it: the products it may read, each column with what it sees of it. */
function visibleCatalog(products: CatalogEntry[], seen: Map<string, Map<string, string>> | undefined): CatalogEntry[] {
  if (!seen) return products;
  return products.flatMap((c) => {
    const columns = seen.get(sqlViewOf(c));
    return columns ? [withAccess(c, columns)] : [];
  });
}

function withAccess(c: CatalogEntry, columns: Map<string, string>): CatalogEntry {
  return { ...c, schema: c.schema.map((s) => ({ ...s, access: columns.get(s.name) ?? 'denied' })) };
}

function sqlViewOf(c: CatalogEntry): string {
  return c.outputPorts.find((o) => o.type === 'sql-view')?.name ?? '';
}

/** The overview as a persona sees it: the products it may read, totals over them, and no alert about the others. */
function visibleOverview(o: Overview, seen: Map<string, Map<string, string>> | undefined): Overview {
  if (!seen) return o;
  const products = o.products.filter((p) => seen.has(p.dataset));
  const hidden = new Set(o.products.filter((p) => !seen.has(p.dataset)).map((p) => p.product));
  const alerts = o.alerts.filter((a) => ![...hidden].some((h) => a.subject.includes(h)));
  return {
    ...o,
    products,
    domains: o.domains.map((d) => ({ ...d, products: products.filter((p) => p.domain === d.name).length })),
    // Only what it may read is counted: the rest of the lake is not its to size.
    totals: {
      ...o.totals,
      products: products.length,
      datasets: products.length,
      rows: products.reduce((a, p) => a + (p.rows ?? 0), 0),
      openAlerts: alerts.length,
    },
    alerts,
  };
}

/** What a served access model lets the caller read, for the routes that list products. */
export function governedAccess(governance: ServedGovernance): ApiAccess {
  return {
    readable: async (req) => {
      const enforcer = await governance.enforcer();
      return new Map(
        enforcer
          .readable(callerOf(req).persona)
          .map((d) => [d.dataset, new Map(d.columns.map((c) => [c.name, c.level === 'masked' ? `masked (${c.rule})` : c.level]))]),
      );
    },
  };
}

/** The routes of the access model: who the caller is, the access matrix, governed SQL. */
function governanceRoutes(governance: ServedGovernance): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/access',
      summary: 'The caller: its persona, principal, and the datasets it may read with what it sees of each column',
      permission: 'catalog',
      handler: async (req) => {
        const caller = callerOf(req);
        const enforcer = await governance.enforcer();
        return { persona: caller.persona, principal: caller.principal, datasets: enforcer.readable(caller.persona) };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/access/matrix',
      summary: 'Every persona × dataset: clear, masked, partial (some columns denied) or denied, with the grant that decides it',
      permission: 'audit',
      cli: 'finmesh access matrix --format json',
      handler: async () => ({ rows: accessMatrix((await governance.enforcer()).policy) }),
    },
    {
      method: 'POST',
      path: '/api/v1/query',
      summary: 'Run one SELECT as the caller’s persona (only readable datasets, masked columns masked, row filters applied, audited)',
      permission: 'query',
      handler: async (req) => {
        const body = req.body as { sql?: unknown; limit?: unknown } | undefined;
        if (typeof body?.sql !== 'string') throw new FinmeshError('DATA_INVALID', 'expected a JSON body {"sql": "SELECT ..."}');
        const limit = body.limit === undefined ? undefined : Number(body.limit);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
          throw new FinmeshError('DATA_INVALID', 'limit: expected a positive integer');
        const enforcer = await governance.enforcer();
        return enforcer.query(principal(callerOf(req), 'http'), body.sql, { rowLimit: limit });
      },
    },
  ];
}

/** The audit trail and its hash chain. */
function auditRoutes(ctx: Context): ApiRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/audit',
      summary: 'The audit trail in chain order: reads, decisions, grant changes, break-glass uses, authentication failures',
      permission: 'audit',
      query: [
        { name: 'kind', description: AUDIT_KINDS.join(', ') },
        { name: 'persona', description: 'only this persona’s records' },
        { name: 'since', description: 'records at or after this ISO time' },
        { name: 'afterSeq', description: 'records after this sequence number', type: 'integer' },
        { name: 'limit', description: 'at most this many (default 1000)', type: 'integer' },
      ],
      handler: async (req) => {
        const q = req.query as { kind?: string; persona?: string; since?: string; afterSeq?: string; limit?: string };
        if (q.kind && !(AUDIT_KINDS as readonly string[]).includes(q.kind))
          throw new FinmeshError('DATA_INVALID', `kind: expected one of ${AUDIT_KINDS.join(', ')}`);
        const records = await ctx.meta.audit.list({
          kind: q.kind as AuditKind | undefined,
          actor: q.persona,
          since: q.since ? new Date(q.since) : undefined,
          afterSeq: q.afterSeq ? Number(q.afterSeq) : undefined,
          limit: Number(q.limit ?? 1000),
        });
        return { records };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/audit/verify',
      summary: 'Whether the audit trail’s hash chain holds, and the first record where it does not',
      permission: 'audit',
      cli: 'finmesh audit verify --json',
      handler: async () => verifyAuditChain(await ctx.meta.audit.list()),
    },
  ];
}
