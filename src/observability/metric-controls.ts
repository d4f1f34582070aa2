/** A metric family as prom-client's `getMetricsAsJSON` gives it. */
export interface MetricFamily {
  name: string;
  help: string;
  type: string;
  values: { value: number; metricName?: string; labels: Record<string, string | number> }[];
}

/** Controls on what `/metrics` exposes: fewer labels per family, and a ceiling on series. */
export interface MetricControls {
  /** Per family, the labels it keeps; series differing only in other labels are summed into one. */
  labels?: Record<string, string[]> | undefined;
  /** The most series exposed; series beyond it (whole label sets, in registration order) are dropped. */
  seriesBudget?: number | undefined;
  /** Families never dropped by the budget (the count of what was dropped). */
  exempt?: string[] | undefined;
}

/** Series of a family: exposed (`kept`), and kept out by the label allowlist or the series budget. */
export interface FamilySeries {
  family: string;
  series: { kept: number; allowlist: number; budget: number };
}

/** Labels a histogram or summary adds to each of its series. */
const STRUCTURAL = new Set(['le', 'quantile']);

/**
 * Applies the controls to the families: a family with an allowlist keeps only those labels (and `le`), summing the
 * values of series that become the same (right for counters, histograms and gauges of additive quantities; a summary
 * keeps its labels, since quantiles do not add); then, in registration order, whole label sets are kept until the
 * series budget is reached and the rest dropped. Returns what is exposed and, per family, what each control kept out.
 */
export function applyMetricControls(
  families: MetricFamily[],
  controls: MetricControls,
): { families: MetricFamily[]; counts: FamilySeries[] } {
  const out: MetricFamily[] = [];
  const counts: FamilySeries[] = [];
  let budgetLeft = controls.seriesBudget ?? Number.POSITIVE_INFINITY;
  const exempt = new Set(controls.exempt ?? []);
  for (const f of families) {
    const allowed = controls.labels?.[f.name];
    let values = f.values;
    if (allowed && f.type !== 'summary') {
      const keep = new Set([...allowed, ...STRUCTURAL]);
      const merged = new Map<string, MetricFamily['values'][number]>();
      for (const v of values) {
        const labels = Object.fromEntries(Object.entries(v.labels).filter(([k]) => keep.has(k)));
        const key = `${v.metricName ?? f.name}\u0000${JSON.stringify(labels)}`;
        const seen = merged.get(key);
        if (seen) seen.value += v.value;
        else merged.set(key, { value: v.value, metricName: v.metricName, labels });
      }
      values = [...merged.values()];
    }
    const allowlist = f.values.length - values.length;
    let budget = 0;
    if (!exempt.has(f.name) && values.length > budgetLeft) {
      // A label set (a histogram's buckets, sum and count together) is kept or dropped whole.
      const groups = new Map<string, MetricFamily['values']>();
      for (const v of values) {
        const key = JSON.stringify(Object.fromEntries(Object.entries(v.labels).filter(([k]) => !STRUCTURAL.has(k))));
        groups.set(key, [...(groups.get(key) ?? []), v]);
      }
      const kept: MetricFamily['values'] = [];
      for (const g of groups.values()) {
        if (g.length <= budgetLeft) {
          kept.push(...g);
          budgetLeft -= g.length;
        } else {
          budget += g.length;
          budgetLeft = 0;
        }
      }
      values = kept;
    } else if (!exempt.has(f.name)) budgetLeft -= values.length;
    counts.push({ family: f.name, series: { kept: values.length, allowlist, budget } });
    if (values.length > 0) out.push({ ...f, values });
  }
  return { families: out, counts };
}

/** Families in the Prometheus text exposition format (0.0.4). */
export function toPrometheusText(families: MetricFamily[]): string {
  const parts: string[] = [];
  for (const f of families) {
    const lines = [`# HELP ${f.name} ${f.help.replaceAll('\\', '\\\\').replaceAll('\n', '\\n')}`, `# TYPE ${f.name} ${f.type}`];
    for (const v of f.values) {
      const labels = Object.entries(v.labels)
        .map(([k, x]) => `${k}="${labelValue(x)}"`)
        .join(',');
      lines.push(`${v.metricName ?? f.name}${labels ? `{${labels}}` : ''} ${sampleValue(v.value)}`);
    }
    parts.push(lines.join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

function labelValue(x: string | number): string {
  if (typeof x === 'number') return x === Number.POSITIVE_INFINITY ? '+Inf' : String(x);
  return x.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

function sampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
