import { FinmeshError } from './errors.js';

/**
 * Durations, parsed in one place. Config durations are compact strings (`500ms`, `30s`, `5m`, `1h`, `2d`); ODCS
 * SLA units are words or ISO-style letters (`m`, `min`, `minutes`, `h`, `hours`, `d`, `days`, `y`, `years`).
 * An unknown unit is an error, never a guess.
 */
const UNITS_MS = {
  ms: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 7 * 86_400_000,
  wk: 7 * 86_400_000,
  week: 7 * 86_400_000,
  weeks: 7 * 86_400_000,
  mo: 30 * 86_400_000,
  month: 30 * 86_400_000,
  months: 30 * 86_400_000,
  y: 365 * 86_400_000,
  yr: 365 * 86_400_000,
  year: 365 * 86_400_000,
  years: 365 * 86_400_000,
} as const satisfies Record<string, number>;

export type DurationUnit = keyof typeof UNITS_MS;

/** The units `unitMs` knows, for messages. */
export const DURATION_UNITS = Object.keys(UNITS_MS) as DurationUnit[];

/** Milliseconds in one `unit` (case-insensitive); undefined for a unit it does not know. */
export function unitMs(unit: string): number | undefined {
  return (UNITS_MS as Record<string, number>)[unit.trim().toLowerCase()];
}

const COMPACT = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]+)$/;

/** True for a compact duration such as `500ms`, `30s`, `5m`, `1h`, `2d`. */
export function isDuration(text: string): boolean {
  const m = COMPACT.exec(text.trim());
  return m?.[2] !== undefined && unitMs(m[2]) !== undefined;
}

/**
 * Milliseconds in a compact duration (`30s` → 30000). Throws `CONFIG_INVALID` naming `where` for anything else.
 */
export function parseDuration(text: string, where = 'duration'): number {
  const m = COMPACT.exec(text.trim());
  const unit = m?.[2] !== undefined ? unitMs(m[2]) : undefined;
  if (!m || unit === undefined) {
    throw new FinmeshError('CONFIG_INVALID', `${where}: expected a duration such as 500ms, 30s, 5m, 1h or 2d, found "${text}"`);
  }
  return Number(m[1]) * unit;
}

/** Milliseconds in `value` × `unit` (an SLA's value and unit); throws `CONFIG_INVALID` for an unknown unit. */
export function durationOf(value: unknown, unit: string, where = 'unit'): number {
  const ms = unitMs(unit);
  if (ms === undefined) {
    throw new FinmeshError(
      'CONFIG_INVALID',
      `${where}: expected a time unit (ms, s, m/min/minutes, h/hours, d/days, w/weeks, y/years), found "${unit}"`,
    );
  }
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0)
    throw new FinmeshError('CONFIG_INVALID', `${where}: expected a non-negative number, found "${String(value)}"`);
  return n * ms;
}

/** `90000` → `1m 30s`: a duration as a person reads it. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const parts: string[] = [];
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (r && !d) parts.push(`${r}s`);
  return parts.join(' ');
}
