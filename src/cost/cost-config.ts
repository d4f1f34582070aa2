import { z } from 'zod';
import { isDuration } from '../core/duration.js';

const duration = z.string().refine(isDuration, 'a duration such as 30s, 5m, 1h or 30d');

export const STORAGE_CLASSES = ['standard', 'nearline', 'coldline', 'archive'] as const;
export type StorageClass = (typeof STORAGE_CLASSES)[number];

export const BIGQUERY_PRICING = ['on-demand', 'standard', 'enterprise', 'enterprise-plus'] as const;

const budgetSchema = z
  .object({
    /** A domain's budget (every product and source of the domain)… */
    domain: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'a domain name')
      .optional(),
    /** …or one product's, by name (its own cost plus its share of what it reads). */
    product: z
      .string()
      .regex(/^[a-z][a-z0-9_]*$/, 'a product name')
      .optional(),
    /** Per calendar month, in the cost currency. */
    monthly: z.number().positive(),
    /** Shares of the budget at which an alert fires (default 50%, 90%, 100%); the forecast alert fires at 100%. */
    alertAt: z.array(z.number().positive().max(10)).min(1).default([0.5, 0.9, 1]),
  })
  .strict()
  .refine((b) => (b.domain === undefined) !== (b.product === undefined), 'exactly one of domain or product');

/**
 * finmesh.yaml `cost`: how finmesh prices what it meters, the budgets it watches, and the controls on what monitoring
 * costs (docs/cost.md). Every field has a default, so a project without the section is metered and priced too.
 */
export const costConfigSchema = z
  .object({
    /** The currency of the price sheet and of every budget (ISO 4217). */
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, 'an ISO 4217 currency code such as USD')
      .default('USD'),
    /** The Google Cloud region the project's resources run in: which region's prices apply. */
    region: z.string().min(1).default('us-central1'),
    /** The project's price overrides, relative to the project (read when the file exists). */
    prices: z.string().default('prices.yaml'),
    /** What the FOCUS export calls the billing account and the sub-account (a GCP project id). */
    billingAccount: z.string().min(1).optional(),
    gcpProject: z.string().min(1).optional(),
    /** The storage class of each lake zone (Cloud Storage); zones not named are `standard`. */
    storageClasses: z.partialRecord(z.enum(['landing', 'bronze', 'silver', 'gold', 'quarantine']), z.enum(STORAGE_CLASSES)).default({}),
    /** Memory allotted per vCPU where runs execute (Cloud Run), priced with their CPU seconds. */
    memoryGiBPerVcpu: z.number().positive().default(0.5),
    /** How BigQuery compute is bought: per TiB scanned, or slot-hours of an edition. */
    bigquery: z.enum(BIGQUERY_PRICING).default('on-demand'),
    /** How often a running process writes what it metered, and samples storage and metric series. */
    meterEvery: duration.default('15s'),
    monitoring: z
      .object({
        /** How often Prometheus (or Managed Service for Prometheus) scrapes `/metrics`: samples = series × scrapes. */
        scrapeInterval: duration.default('30s'),
        metrics: z
          .object({
            /** The most series `/metrics` exposes; those beyond are dropped (and counted in `finmesh_metrics_series_dropped`). */
            seriesBudget: z.number().int().positive().optional(),
            /** Per metric family, the labels it keeps; series that differ only in other labels are summed into one. */
            labels: z.record(z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'a metric family name'), z.array(z.string())).default({}),
          })
          .strict()
          .prefault({}),
        /**
         * How long each signal is kept where it has a price: logs (their Cloud Logging bucket; beyond 30 days retention
         * is charged). Managed Prometheus keeps samples 24 months and Data Lineage 30 days, at no charge and not
         * configurable, so they have no setting here.
         */
        retention: z
          .object({
            logs: duration.default('30d'),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    budgets: z.array(budgetSchema).default([]),
  })
  .strict()
  .prefault({});

export type CostConfig = z.infer<typeof costConfigSchema>;
export type Budget = CostConfig['budgets'][number];
