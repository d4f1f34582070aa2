import type { Command } from 'commander';
import type { RunEvent } from '../../lineage/openlineage.js';
import { examples, integer, projectOption } from '../options.js';
import { say } from '../output.js';

export function registerServe(program: Command): void {
  // An OpenLineage backend, not a Marquez server: Marquez's web UI reads a dozen more routes (namespaces, jobs,
  // datasets, runs, search, facets) that finmesh does not serve. Any OpenLineage client's HTTP transport can send here.
  const cmd = program
    .command('serve')
    .description(
      'serve the HTTP API: /healthz, /metrics, /api/v1/catalog, /api/v1/runs, and /api/v1/lineage — an OpenLineage HTTP endpoint (POST RunEvents) and lineage graph (GET ?nodeId=)',
    );
  projectOption(cmd)
    .option('--port <n>', 'port (default: finmesh.yaml server.port)', integer)
    .action(async (opts: { project: string; port?: number }) => {
      const [
        { loadProject },
        { FinmeshError },
        { openContext },
        { LineageGraph },
        { marquezLineage },
        { buildCatalog },
        { Metrics },
        { runHistory },
        { startServer },
      ] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../core/errors.js'),
        import('../../jobs/context.js'),
        import('../../lineage/graph.js'),
        import('../../lineage/marquez.js'),
        import('../../mesh/reports.js'),
        import('../../observability/metrics.js'),
        import('../../runs/history.js'),
        import('../../server/server.js'),
      ]);
      const project = await loadProject(opts.project);
      const ctx = await openContext(project);
      const metrics = new Metrics();
      const server = await startServer({
        host: project.config.server.host,
        port: opts.port ?? project.config.server.port,
        metrics,
        api: (app) => {
          app.post('/api/v1/lineage', async (req, reply) => {
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
          app.get('/api/v1/catalog', async () => ({ products: await buildCatalog(ctx) }));
          app.get('/api/v1/runs', async (req) => {
            const q = req.query as { job?: string; limit?: string };
            return { jobs: await runHistory(ctx, { job: q.job, limit: Number(q.limit ?? 20) }) };
          });
          app.get('/api/v1/lineage', async (req) => {
            const q = req.query as { nodeId?: string; depth?: string };
            if (!q.nodeId)
              throw new FinmeshError('DATA_INVALID', 'nodeId is required (dataset:<namespace>:<name> or job:<namespace>:<name>)');
            const graph = LineageGraph.fromEvents((await ctx.meta.lineage.list()).map((r) => r.event));
            const result = marquezLineage(graph, q.nodeId, Number(q.depth ?? 20));
            if (!result) throw new FinmeshError('NOT_FOUND', `no node ${q.nodeId}`);
            return result;
          });
        },
      });
      say(`finmesh serve: ${server.url} — OpenLineage endpoint ${server.url}/api/v1/lineage, metrics ${server.url}/metrics; Ctrl-C stops`);
      await new Promise<void>((resolve) => {
        process.once('SIGTERM', resolve);
        process.once('SIGINT', resolve);
      });
      await server.close();
      await ctx.close();
    });
  examples(cmd, [
    'finmesh serve --port 8080',
    'curl -s localhost:8080/api/v1/catalog',
    'OPENLINEAGE_URL=http://localhost:8080 dbt-ol run   # any OpenLineage HTTP transport can send its events here',
  ]);
}
