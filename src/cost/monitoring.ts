import type { Project } from '../config/project.js';
import type { RatedLine } from './rating.js';
import type { PricedUsage } from './report.js';

/** The controls a monitoring signal can be kept out by, and the configuration that sets each. */
export const CONTROLS = {
  sampled: 'logging.components.<c>.sampleRate',
  excluded: 'logging.components.<c>.exclude',
  level: 'logging.level / logging.components.<c>.level',
  allowlist: 'cost.monitoring.metrics.labels',
  budget: 'cost.monitoring.metrics.seriesBudget',
} as const;
export type Control = keyof typeof CONTROLS;

export interface SignalBill {
  /** What was ingested: lines, samples or events, and bytes where they count. */
  quantity: number;
  bytes: number;
  cost: number;
}

export interface ComponentMonitoring {
  component: string;
  logs: SignalBill;
  metrics: SignalBill & { series: number };
  lineage: SignalBill;
  /** What monitoring this component costs: logs, metric samples and lineage events. */
  cost: number;
  /** Per control, what it kept out on the same run and what that would have cost. */
  saved: Partial<Record<Control, { quantity: number; bytes: number; cost: number }>>;
  savedCost: number;
}

export interface MonitoringReport {
  month: string;
  currency: string;
  /** The controls in force, as configured. */
  controls: {
    logging: Record<string, { level?: string | undefined; sampleRate: number; exclude?: string[] | undefined }>;
    defaultLevel: string;
    metrics: { labels: Record<string, string[]>; seriesBudget: number | undefined; scrapeInterval: string };
    retention: { logs: string };
  };
  components: ComponentMonitoring[];
  total: { cost: number; saved: number };
}

/**
 * The monitoring bill per component, measured: log bytes written times Cloud Logging's ingestion (and retention)
 * price, metric samples a scrape at the configured interval ingests times Managed Prometheus's price, lineage events
 * times theirs — and, for each control, what it kept out of the same runs (lines sampled out, excluded or below the
 * level; series merged by a label allowlist or over the series budget) and what that would have cost.
 */
export function monitoringReport(project: Project, priced: PricedUsage): MonitoringReport {
  const byComponent = new Map<string, ComponentMonitoring>();
  const get = (component: string): ComponentMonitoring => {
    let c = byComponent.get(component);
    if (!c) {
      c = {
        component,
        logs: { quantity: 0, bytes: 0, cost: 0 },
        metrics: { quantity: 0, bytes: 0, cost: 0, series: 0 },
        lineage: { quantity: 0, bytes: 0, cost: 0 },
        cost: 0,
        saved: {},
        savedCost: 0,
      };
      byComponent.set(component, c);
    }
    return c;
  };
  const costOf = new Map<unknown, number>();
  for (const l of priced.lines as RatedLine[]) costOf.set(l.record, (costOf.get(l.record) ?? 0) + l.cost);
  // Series is a daily maximum per family; a component's series is the sum over its families of the latest day's.
  const latestSeries = new Map<string, { day: string; series: number; component: string }>();
  for (const r of priced.records) {
    const outcome = (r.attributes.outcome ?? 'kept') as 'kept' | Control;
    const cost = costOf.get(r) ?? 0;
    if (r.meter === 'metric.series' && outcome === 'kept') {
      const family = r.attributes.family ?? '';
      const seen = latestSeries.get(family);
      if (!seen || seen.day < r.day) latestSeries.set(family, { day: r.day, series: r.quantity, component: r.component });
      else if (seen.day === r.day) seen.series = Math.max(seen.series, r.quantity);
      continue;
    }
    const signal =
      r.meter === 'log.lines' || r.meter === 'log.bytes'
        ? 'logs'
        : r.meter === 'metric.samples'
          ? 'metrics'
          : r.meter === 'lineage.events' || r.meter === 'lineage.bytes'
            ? 'lineage'
            : undefined;
    if (!signal) continue;
    const c = get(r.component);
    const isBytes = r.meter.endsWith('.bytes');
    if (outcome === 'kept') {
      const bill = c[signal];
      if (isBytes) bill.bytes += r.quantity;
      else bill.quantity += r.quantity;
      bill.cost += cost;
      c.cost += cost;
    } else {
      const s = c.saved[outcome] ?? { quantity: 0, bytes: 0, cost: 0 };
      if (isBytes) s.bytes += r.quantity;
      else s.quantity += r.quantity;
      s.cost += cost;
      c.saved[outcome] = s;
      c.savedCost += cost;
    }
  }
  for (const s of latestSeries.values()) get(s.component).metrics.series += s.series;
  const components = [...byComponent.values()].sort((a, b) => b.cost - a.cost || a.component.localeCompare(b.component));
  const cfg = project.config;
  return {
    month: priced.period.month,
    currency: priced.sheet.currency,
    controls: {
      logging: cfg.logging.components,
      defaultLevel: cfg.logging.level,
      metrics: {
        labels: cfg.cost.monitoring.metrics.labels,
        seriesBudget: cfg.cost.monitoring.metrics.seriesBudget,
        scrapeInterval: cfg.cost.monitoring.scrapeInterval,
      },
      retention: cfg.cost.monitoring.retention,
    },
    components,
    total: { cost: components.reduce((a, c) => a + c.cost, 0), saved: components.reduce((a, c) => a + c.savedCost, 0) },
  };
}
