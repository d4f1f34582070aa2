import type { BigQueryWarehouse } from '../engine/bigquery/bigquery-warehouse.js';
import type { Context } from './context.js';
import { type ModelRunResult, type RunModelsOptions, runModels } from './transform.js';

/** A model run as the stream and the demo see it, whichever engine ran it. */
export type TargetModelResult = Pick<ModelRunResult, 'model' | 'dataset' | 'runId' | 'status' | 'materialized' | 'error' | 'checks'>;

export type ModelRunner = (
  options: Pick<RunModelsOptions, 'selector' | 'parent' | 'checks'> & {
    /** Once the selected models are built, before their checks (on BigQuery: once the whole run is done). */
    onBuilt?: ((results: TargetModelResult[]) => void) | undefined;
  },
) => Promise<TargetModelResult[]>;

/**
 * The models as the context's target runs them. On the embedded DuckDB: `runModels` over the local lake. Where the
 * engine is BigQuery: the bronze committed since the last call is loaded by job (each file's job id derived from its
 * key, so a batch is never loaded twice), then the selected models run in BigQuery and each product's checks there,
 * as `finmesh run --target gcp` does; the embedded DuckDB never reads the bucket. One runner per process: it remembers
 * which bronze files it loaded and which tables exist, and keeps one BigQuery client.
 */
export function modelRunner(ctx: Context): ModelRunner {
  if (ctx.project.config.engine.kind !== 'bigquery')
    return ({ onBuilt, ...options }) => runModels(ctx, { ...options, ...(onBuilt ? { onBuilt } : {}) });
  const loaded = new Set<string>();
  const tables = new Set<string>();
  let warehouse: Promise<BigQueryWarehouse> | undefined;
  return async (options) => {
    const { openWarehouse, runInBigQuery } = await import('./bigquery-build.js');
    warehouse ??= openWarehouse(ctx).catch((e: unknown) => {
      warehouse = undefined;
      throw e;
    });
    const { models } = await runInBigQuery(ctx, {
      selector: options.selector,
      parent: options.parent,
      checks: options.checks,
      loaded,
      tables,
      warehouse: await warehouse,
    });
    const results: TargetModelResult[] = models.map((m) => ({
      model: m.model,
      dataset: m.dataset,
      runId: m.runId,
      status: m.status,
      materialized: m.materialized,
      ...(m.error !== undefined ? { error: m.error } : {}),
      ...(m.checks ? { checks: m.checks } : {}),
    }));
    options.onBuilt?.(results);
    return results;
  };
}
