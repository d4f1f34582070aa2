import type { Command } from 'commander';
import type { RunEvent } from '../../lineage/openlineage.js';
import type { AuditKind } from '../../metadata/metadata-store.js';
import { examples, integer, projectOption } from '../options.js';
import { say } from '../output.js';

export function registerServe(program: Command): void {
  // An OpenLineage backend, not a Marquez server: Marquez's web UI reads a dozen more routes (namespaces, jobs,
  // datasets, runs, search, facets) that finmesh does not serve. Any OpenLineage client's HTTP transport can send here.
  const cmd = program
    .command('serve')
    .description(
      'serve the HTTP API: /api/v1/lineage, an OpenLineage HTTP endpoint (POST RunEvents) and lineage graph (GET ?nodeId=); /api/v1/catalog, query, runs, audit and access; /healthz and /metrics. With --pg-port, also the governed SQL endpoint for BI tools. Every route but /healthz needs a token of governance/access.yaml',
    );
  projectOption(cmd)
    .option('--port <n>', 'port (default: finmesh.yaml server.port)', integer)
    .option('--pg-port <n>', 'also serve the governed SQL endpoint (PostgreSQL wire protocol) on this port (0: any free port)', integer)
    .action(async (opts: { project: string; port?: number; pgPort?: number }) => {
      const [
        { loadProject },
        { durationMs },
        { resolveSecret },
        { FinmeshError },
        { openContext },
        { LineageGraph },
        { marquezLineage },
        { AUDIT_KINDS },
        { verifyAuditChain },
        { buildCatalog },
        { componentLogger },
        { Metrics },
        { runHistory },
        { principal, ServedGovernance },
        { callerOf, startServer },
      ] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../config/schema.js'),
        import('../../config/secrets.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../lineage/graph.js'),
        import('../../lineage/marquez.js'),
        import('../../metadata/metadata-store.js'),
        import('../../metadata/audit-chain.js'),
        import('../../mesh/reports.js'),
        import('../../observability/logger.js'),
        import('../../observability/metrics.js'),
        import('../../runs/history.js'),
        import('../../server/served-governance.js'),
        import('../../server/server.js'),
      ]);
      const project = await loadProject(opts.project);
      const ctx = await openContext(project, {
        secrets: project.config.tokenization !== undefined && hasKey(project.config.tokenization.key),
      });
      const log = componentLogger(project.config.logging, 'server');
      const governance = await ServedGovernance.open(ctx, log);
      const metrics = new Metrics();
      const server = await startServer({
        host: project.config.server.host,
        port: opts.port ?? project.config.server.port,
        metrics,
        auth: governance,
        api: (app) => {
          app.post('/api/v1/lineage', { config: { permission: 'lineage:write' } }, async (req, reply) => {
            const e = req.body as Partial<RunEvent> | undefined;
            if (!e?.eventType || !e.eventTime || !e.run?.runId || !e.job?.namespace || !e.job?.name) {
              throw new FinmeshError(
                'DATA_INVALID',
                'expected an OpenLineage RunEvent with eventType, eventTime, run.runId, job.namespace and job.name',
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
          });
          app.get('/api/v1/catalog', { config: { permission: 'catalog' } }, async (req) => {
            // The products the caller's persona may read, each column with what the persona sees of it.
            const enforcer = await governance.enforcer();
            const readable = new Map(enforcer.readable(callerOf(req).persona).map((d) => [d.dataset, d]));
            const products = (await buildCatalog(ctx)).filter((c) =>
              readable.has(c.outputPorts.find((o) => o.type === 'sql-view')?.name ?? ''),
            );
            return {
              products: products.map((c) => {
                const d = readable.get(c.outputPorts.find((o) => o.type === 'sql-view')?.name ?? '');
                const level = new Map(d?.columns.map((x) => [x.name, x.level === 'masked' ? `masked (${x.rule})` : x.level]));
                return { ...c, schema: c.schema.map((s) => ({ ...s, access: level.get(s.name) })) };
              }),
            };
          });
          app.get('/api/v1/access', { config: { permission: 'catalog' } }, async (req) => {
            const caller = callerOf(req);
            const enforcer = await governance.enforcer();
            return { persona: caller.persona, principal: caller.principal, datasets: enforcer.readable(caller.persona) };
          });
          app.post('/api/v1/query', { config: { permission: 'query' } }, async (req) => {
            const body = req.body as { sql?: unknown; limit?: unknown } | undefined;
            if (typeof body?.sql !== 'string') throw new FinmeshError('DATA_INVALID', 'expected a JSON body {"sql": "SELECT ..."}');
            const limit = body.limit === undefined ? undefined : Number(body.limit);
            if (limit !== undefined && (!Number.isInteger(limit) || limit < 1))
              throw new FinmeshError('DATA_INVALID', 'limit: expected a positive integer');
            const enforcer = await governance.enforcer();
            return enforcer.query(principal(callerOf(req), 'http'), body.sql, { rowLimit: limit });
          });
          app.get('/api/v1/runs', { config: { permission: 'runs' } }, async (req) => {
            const q = req.query as { job?: string; limit?: string };
            return { jobs: await runHistory(ctx, { job: q.job, limit: Number(q.limit ?? 20) }) };
          });
          app.get('/api/v1/lineage', { config: { permission: 'lineage:read' } }, async (req) => {
            const q = req.query as { nodeId?: string; depth?: string };
            if (!q.nodeId)
              throw new FinmeshError('DATA_INVALID', 'nodeId is required (dataset:<namespace>:<name> or job:<namespace>:<name>)');
            const graph = LineageGraph.fromEvents((await ctx.meta.lineage.list()).map((r) => r.event));
            const result = marquezLineage(graph, q.nodeId, Number(q.depth ?? 20));
            if (!result) throw new FinmeshError('NOT_FOUND', `no node ${q.nodeId}`);
            return result;
          });
          app.get('/api/v1/audit', { config: { permission: 'audit' } }, async (req) => {
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
          });
          app.get('/api/v1/audit/verify', { config: { permission: 'audit' } }, async () => verifyAuditChain(await ctx.meta.audit.list()));
        },
      });
      let pg: { port: number; close(): Promise<void> } | undefined;
      if (opts.pgPort !== undefined) {
        const { startPgEndpoint } = await import('../../governance/pg-endpoint.js');
        const sql = project.config.server.sql;
        const tls = sql.tls
          ? {
              cert: resolveSecret(sql.tls.cert, project.root, 'finmesh.yaml: server.sql.tls.cert'),
              key: resolveSecret(sql.tls.key, project.root, 'finmesh.yaml: server.sql.tls.key'),
            }
          : undefined;
        pg = await startPgEndpoint({
          host: project.config.server.host,
          port: opts.pgPort,
          governance,
          tls,
          rowLimit: sql.rowLimit,
          statementTimeoutMs: durationMs(sql.statementTimeout),
          log,
        });
      }
      say(
        `finmesh serve: ${server.url} — OpenLineage endpoint ${server.url}/api/v1/lineage, metrics ${server.url}/metrics${pg ? `, SQL endpoint on ${project.config.server.host}:${pg.port}` : ''}; Ctrl-C stops`,
      );
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await pg?.close();
      await server.close();
      await governance.close();
      await ctx.close();
    });
  examples(cmd, [
    'finmesh serve --port 8080 --pg-port 5433   # tokens from the secrets governance/access.yaml names (FINMESH_TOKEN_...)',
    'curl -s -H "Authorization: Bearer $FINMESH_TOKEN_PLATFORM" localhost:8080/api/v1/catalog',
    'PGPASSWORD=$FINMESH_TOKEN_POWERBI psql "host=localhost port=5433 dbname=finmesh user=powerbi sslmode=require"',
    'OPENLINEAGE_URL=http://localhost:8080 OPENLINEAGE_API_KEY=$FINMESH_TOKEN_LINEAGE dbt-ol run   # any OpenLineage HTTP transport can send its events here',
  ]);
}

/** Whether a secret reference resolves here (tokenised columns need the key; serving without it refuses them only). */
function hasKey(ref: string): boolean {
  return !ref.startsWith('env:') || Boolean(process.env[ref.slice(4)]);
}
