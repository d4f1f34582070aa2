import type { Command } from 'commander';
import { examples, integer, projectOption } from '../options.js';
import { say } from '../output.js';

export function registerServe(program: Command): void {
  // An OpenLineage backend, not a Marquez server: Marquez's web UI reads a dozen more routes (namespaces, jobs,
  // datasets, runs, search, facets) that finmesh does not serve. Any OpenLineage client's HTTP transport can send here.
  const cmd = program
    .command('serve')
    .description(
      'serve the web console at / and the HTTP API under /api/v1 (OpenAPI at /api/v1/openapi.json): overview, catalog, products, runs, costs, SLOs, alerts, partner files, lineage — /api/v1/lineage is also an OpenLineage HTTP endpoint (POST RunEvents) —, query, access and audit; /healthz and /metrics. With --pg-port, also the governed SQL endpoint for BI tools. Every route but /healthz and the console’s files needs a token of governance/access.yaml',
    );
  projectOption(cmd)
    .option('--port <n>', 'port (default: finmesh.yaml server.port)', integer)
    .option('--pg-port <n>', 'also serve the governed SQL endpoint (PostgreSQL wire protocol) on this port (0: any free port)', integer)
    .action(async (opts: { project: string; port?: number; pgPort?: number }) => {
      const [
        { loadProject },
        { durationMs },
        { resolveSecret },
        { openContext },
        { componentLogger },
        { Metrics },
        api,
        { ServedGovernance },
        { startServer },
      ] = await Promise.all([
        import('../../config/project-cache.js'),
        import('../../config/schema.js'),
        import('../../config/secrets.js'),
        import('../../jobs/context.js'),
        import('../../observability/logger.js'),
        import('../../observability/metrics.js'),
        import('../../server/api.js'),
        import('../../server/served-governance.js'),
        import('../../server/server.js'),
      ]);
      const project = await loadProject(opts.project);
      const metrics = new Metrics();
      // The served registry is the context's: cost and budget gauges, and metric controls, apply to it.
      const ctx = await openContext(project, {
        metrics,
        secrets: project.config.tokenization !== undefined && hasKey(project.config.tokenization.key),
      });
      const log = componentLogger(project.config.logging, 'server');
      const governance = await ServedGovernance.open(ctx, log);
      const server = await startServer({
        host: project.config.server.host,
        port: opts.port ?? project.config.server.port,
        metrics,
        auth: governance,
        api: (app) => api.registerApi(app, ctx, { access: api.governedAccess(governance), governance, drawArchitecture: 'eager' }),
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
        `finmesh serve: ${server.url} — console ${server.url}/ (sign in with an API token), API ${server.url}/api/v1 (OpenAPI ${server.url}/api/v1/openapi.json), OpenLineage endpoint ${server.url}/api/v1/lineage, metrics ${server.url}/metrics${pg ? `, SQL endpoint on ${project.config.server.host}:${pg.port}` : ''}; Ctrl-C stops`,
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
    'finmesh serve --port 8080   # then open http://127.0.0.1:8080/ and sign in with an API token',
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
