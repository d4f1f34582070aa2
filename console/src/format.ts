const int = new Intl.NumberFormat('en-US');

export const count = (n: number | null | undefined) => (n === null || n === undefined ? '–' : int.format(n));

export const percent = (v: number | null | undefined, digits = 1) =>
  v === null || v === undefined ? '–' : `${(v * 100).toFixed(digits)}%`;

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function age(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined) return 'never';
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86_400)} d ago`;
}

export const time = (iso: string | null | undefined) => (iso ? iso.replace('T', ' ').slice(0, 19) : '–');

export const productPath = (id: string) => `/products/${encodeURIComponent(id)}`;
export const runPath = (id: string) => `/runs/${encodeURIComponent(id)}`;
export const lineagePath = (dataset: string, column?: string) =>
  `/lineage?dataset=${encodeURIComponent(dataset)}${column ? `&column=${encodeURIComponent(column)}` : ''}`;

export function money(v: number | undefined, currency: string): string {
  if (v === undefined) return '–';
  // Small amounts keep their cents' fractions: a demo's minute of BigQuery costs less than a cent.
  return new Intl.NumberFormat('en-US', { style: 'currency', currency, maximumFractionDigits: v !== 0 && Math.abs(v) < 1 ? 4 : 2 }).format(
    v,
  );
}
