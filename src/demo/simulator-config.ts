import { z } from 'zod';
import { zodIssues } from '../config/issues.js';
import type { Project } from '../config/project.js';
import { ConfigError, type ValidationIssue } from '../core/errors.js';

/** The app simulator's settings: `simulator:` in finmesh.yaml, read by `finmesh demo` and `finmesh generate`. */
export const simulatorConfigSchema = z
  .object({
    seed: z.number().int().default(42),
    customers: z.number().int().positive().default(2000),
    merchants: z.number().int().positive().default(300),
    transactionsPerSecond: z.number().positive().default(200),
    /** Rates of known app defects the simulator injects (quality checks should find them). */
    defects: z
      .object({ lowercaseCurrency: z.number().min(0).max(1).default(0) })
      .strict()
      .default({ lowercaseCurrency: 0 }),
  })
  .strict();
export type SimulatorConfig = z.infer<typeof simulatorConfigSchema>;

/** The entities the simulated app writes: outbox aggregates, and PostgreSQL tables of the same name. */
export const SIMULATED_ENTITIES = ['transactions', 'customers', 'merchants'] as const;
export type SimulatedEntity = (typeof SIMULATED_ENTITIES)[number];

/** Problems with the project's `simulator:` settings, as validation issues of finmesh.yaml. */
export function simulatorIssues(project: Project): ValidationIssue[] {
  const doc = project.config.simulator ?? {};
  const r = simulatorConfigSchema.safeParse(doc);
  return r.success ? [] : zodIssues('finmesh.yaml', doc, r.error, ['simulator']);
}

/** The simulator's settings, defaults filled in; throws a `ConfigError` naming finmesh.yaml when they are invalid. */
export function simulatorConfig(project: Project): SimulatorConfig {
  const r = simulatorConfigSchema.safeParse(project.config.simulator ?? {});
  if (!r.success) throw new ConfigError(simulatorIssues(project));
  return r.data;
}
