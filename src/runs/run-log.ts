import { format } from 'node:util';
import type { Logger } from 'pino';
import { DEFAULT_RUN_LOG_CHARS, DEFAULT_RUN_LOG_LINES, type RunLogLine } from '../metadata/metadata-store.js';
import { REDACT_PATHS } from '../observability/logger.js';

/** Field names whose values never leave the process in a stored line (the logger's redaction, as bare names). */
const REDACTED = new Set(REDACT_PATHS.map((p) => p.replace(/^\*\./, '').toLowerCase()));
/** The run's bindings: the run's page already names them, a stored line need not repeat them. */
const BINDINGS = new Set(['run_id', 'job', 'domain', 'product', 'source', 'component']);
const SEVERITY = { info: 'INFO', warn: 'WARNING', error: 'ERROR', fatal: 'CRITICAL' } as const;
type Level = keyof typeof SEVERITY;
/** At most this many fields of a line are kept. */
const MAX_FIELDS = 20;

/**
 * The tail of a run's log kept with the run: its info, warning and error lines (never debug), at most `max`; when
 * full, the oldest info line goes first, so the warnings and errors that explain a failure stay. Messages and field
 * values are cut to `DEFAULT_RUN_LOG_CHARS`; fields the logger redacts (`REDACT_PATHS`) are censored the same way.
 */
export class RunLogTail {
  private readonly kept: RunLogLine[] = [];
  /** Lines that did not fit. */
  dropped = 0;

  constructor(
    private readonly now: () => number,
    private readonly max = DEFAULT_RUN_LOG_LINES,
  ) {}

  /** Keeps a pino call's line; `bound` are the fields of the child logger it was made on. */
  add(level: Level, args: unknown[], bound: Record<string, unknown> = {}): void {
    const line = toLine(new Date(this.now()), SEVERITY[level], args, bound);
    this.kept.push(line);
    if (this.kept.length <= this.max) return;
    // findIndex answers -1 without an info line: then the oldest line of all goes.
    const oldestInfo = this.kept.findIndex((l) => l.severity === 'INFO');
    this.kept.splice(Math.max(oldestInfo, 0), 1);
    this.dropped++;
  }

  lines(): RunLogLine[] {
    return [...this.kept];
  }
}

/**
 * `logger`, with every info-or-above line also added to `tail` (children too). The line still goes where the logger
 * sends it, with its level, sampling and exclusions; the tail keeps the run's own account whatever those drop.
 */
export function teeLogger(logger: Logger, tail: RunLogTail, bound: Record<string, unknown> = {}): Logger {
  return new Proxy(logger, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      if (prop === 'child')
        return (...args: unknown[]) =>
          teeLogger((value as (...a: unknown[]) => Logger).apply(target, args), tail, {
            ...bound,
            ...(args[0] as Record<string, unknown>),
          });
      if (typeof prop === 'string' && prop in SEVERITY)
        return (...args: unknown[]) => {
          try {
            tail.add(prop as Level, args, bound);
          } catch {
            // A line that cannot be kept (a field that will not serialise) is still logged.
          }
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      return value.bind(target);
    },
  });
}

/** A pino call's arguments — `(msg, ...args)`, `(obj, msg?, ...args)` or `(err, msg?)` — as a stored line. */
function toLine(time: Date, severity: string, args: unknown[], bound: Record<string, unknown>): RunLogLine {
  const [first, ...rest] = args;
  const plain = typeof first === 'string' || first === undefined;
  const own = plain ? {} : first instanceof Error ? { err: first } : (first as Record<string, unknown>);
  const obj: Record<string, unknown> = { ...bound, ...own };
  const [msg, ...more] = plain ? [first ?? '', ...rest] : rest;
  const fields: RunLogLine['fields'] = {};
  for (const [k, v] of Object.entries(obj)) {
    if (BINDINGS.has(k) || v === undefined || typeof v === 'function') continue;
    if (Object.keys(fields).length >= MAX_FIELDS) break;
    fields[k] = REDACTED.has(k.toLowerCase()) ? '[REDACTED]' : value(v);
  }
  const message =
    typeof msg === 'string' ? format(msg, ...more) : first instanceof Error ? first.message : typeof obj.msg === 'string' ? obj.msg : '';
  delete fields.msg;
  return { time, severity, message: cut(message), fields };
}

function value(v: unknown): string | number | boolean | null {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  if (typeof v === 'string') return cut(v);
  if (v instanceof Error) return cut(v.message);
  if (typeof v === 'bigint') return v.toString();
  return cut(JSON.stringify(redact(v, 0)) ?? '');
}

/** A nested value with the redacted names censored at any depth (to a bounded depth: deeper is dropped). */
function redact(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (depth > 4) return '[…]';
  if (v instanceof Error) return v.message;
  if (Array.isArray(v)) return v.slice(0, 20).map((x) => redact(x, depth + 1));
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, REDACTED.has(k.toLowerCase()) ? '[REDACTED]' : redact(x, depth + 1)]),
  );
}

function cut(s: string): string {
  return s.length <= DEFAULT_RUN_LOG_CHARS ? s : `${s.slice(0, DEFAULT_RUN_LOG_CHARS - 1)}…`;
}
