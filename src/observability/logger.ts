import { createRequire } from 'node:module';
import type { DestinationStream, Logger } from 'pino';

const require = createRequire(import.meta.url);
type Pino = typeof import('pino');
let pinoModule: Pino | undefined;
/** pino, loaded when a logger first logs: a command that logs nothing (a query, --help) does not load it. */
function pinoLib(): Pino {
  pinoModule ??= require('pino') as Pino;
  return pinoModule;
}

/**
 * A logger made when first used. Its methods are bound to the real logger once each, so a hot path pays one map
 * lookup a call.
 */
function deferred(make: () => Logger): Logger {
  let real: Logger | undefined;
  const bound = new Map<PropertyKey, unknown>();
  const target = (): Logger => {
    real ??= make();
    return real;
  };
  return new Proxy({} as Logger, {
    get(_t, p) {
      const known = bound.get(p);
      if (known !== undefined) return known;
      const l = target();
      const v = Reflect.get(l, p, l);
      if (typeof v !== 'function') return v;
      const f = v.bind(l);
      bound.set(p, f);
      return f;
    },
    set(_t, p, v) {
      const l = target();
      return Reflect.set(l, p, v, l);
    },
    has(_t, p) {
      return p in target();
    },
  });
}

/** pino levels → Cloud Logging severities, so logs read the same on a laptop and in Cloud Logging. */
const SEVERITY: Record<string, string> = {
  trace: 'DEBUG',
  debug: 'DEBUG',
  info: 'INFO',
  warn: 'WARNING',
  error: 'ERROR',
  fatal: 'CRITICAL',
};

/** Fields that may hold secrets or raw PII: censored wherever they appear in a log object. */
export const REDACT_PATHS = [
  'password',
  'privateKey',
  'key',
  'token',
  'secret',
  'cpf',
  'cnpj',
  'pan',
  'payer',
  'email',
  'phone',
  'apiKey',
  'accountKey',
  'connectionString',
  '*.password',
  '*.privateKey',
  '*.key',
  '*.token',
  '*.secret',
  '*.cpf',
  '*.pan',
  '*.payer',
  '*.cnpj',
  '*.email',
  '*.phone',
  '*.apiKey',
  '*.accountKey',
  '*.connectionString',
];

/** pino's numeric levels. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60 };
/** Below this level nothing is counted (trace lines are never formatted unless asked for). */
const COUNTED_FROM = 'debug';

/** What became of log lines: kept (written), or dropped by a control — sampling, an exclusion, the level. */
export type LogOutcome = 'kept' | 'sampled' | 'excluded' | 'level';

export interface LogTallyEntry {
  component: string;
  /** Cloud Logging severity: DEBUG, INFO, WARNING, ERROR, CRITICAL. */
  severity: string;
  outcome: LogOutcome;
  domain: string | undefined;
  product: string | undefined;
  source: string | undefined;
  lines: number;
  /** Bytes written; for dropped lines, their count times the mean size of the component's kept lines. */
  bytes: number;
}

/**
 * Log lines and bytes this process wrote, and the lines each control kept out, per component, severity and the
 * domain, product or source a line names: what the cost plane meters as the logging bill and its savings.
 */
export class LogTally {
  private entries = new Map<string, LogTallyEntry>();
  /** Kept lines and bytes per component (and per component and severity), for the size of dropped lines. */
  private readonly kept = new Map<string, { lines: number; bytes: number }>();

  add(e: Omit<LogTallyEntry, 'lines' | 'bytes'>, bytes: number): void {
    const key = `${e.component}|${e.severity}|${e.outcome}|${e.domain ?? ''}|${e.product ?? ''}|${e.source ?? ''}`;
    const seen = this.entries.get(key);
    if (seen) {
      seen.lines++;
      seen.bytes += bytes;
    } else this.entries.set(key, { ...e, lines: 1, bytes });
    if (e.outcome === 'kept') {
      for (const k of [e.component, `${e.component}|${e.severity}`]) {
        const m = this.kept.get(k) ?? { lines: 0, bytes: 0 };
        m.lines++;
        m.bytes += bytes;
        this.kept.set(k, m);
      }
    }
  }

  /** Everything counted since the last drain; dropped lines get their estimated bytes now. */
  drain(): LogTallyEntry[] {
    const out = [...this.entries.values()];
    this.entries = new Map();
    for (const e of out) {
      if (e.outcome === 'kept') continue;
      const m = this.kept.get(`${e.component}|${e.severity}`) ?? this.kept.get(e.component);
      e.bytes = Math.round(e.lines * (m && m.lines > 0 ? m.bytes / m.lines : DEFAULT_LINE_BYTES));
    }
    return out;
  }
}

/** The size assumed for a dropped line of a component that kept none yet. */
const DEFAULT_LINE_BYTES = 200;

/** This process's log tally (every logger `createLogger` makes counts into it). */
export const logTally = new LogTally();

export interface LoggerOptions {
  level?: string;
  component?: string;
  /** Share of debug/info lines kept (0..1); warnings and errors are always kept. This is how log spend is controlled. */
  sampleRate?: number;
  /** Regular expressions: a debug or info line whose message matches one is dropped (noisy lines nobody reads). */
  exclude?: string[];
  /** Where lines go; standard error by default so standard output stays for results. */
  destination?: DestinationStream;
}

/**
 * One JSON object a line: `time`, `severity`, `message`, plus bindings such as `run_id` and `job`. Every line is
 * counted in `logTally`: written, or kept out by the level, an exclusion or sampling (debug lines below the level are
 * counted without being formatted).
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? process.env.FINMESH_LOG_LEVEL ?? 'info';
  const threshold = LEVELS[level] ?? LEVELS.info ?? 30;
  const counted = Math.min(threshold, LEVELS[COUNTED_FROM] ?? 20);
  const component = options.component ?? 'finmesh';
  const exclude = (options.exclude ?? []).map((r) => new RegExp(r));
  const rate = options.sampleRate ?? 1;
  const dropped = (lvl: number, outcome: LogOutcome, args: unknown[]) => {
    const fields = typeof args[0] === 'object' && args[0] !== null ? (args[0] as Record<string, unknown>) : {};
    const text = (k: string) => (typeof fields[k] === 'string' ? (fields[k] as string) : undefined);
    logTally.add(
      { component, severity: severityOf(lvl), outcome, domain: text('domain'), product: text('product'), source: text('source') },
      0,
    );
  };
  return deferred(() => {
    const pino = pinoLib();
    return pino.pino(
      {
        level: Object.entries(LEVELS).find(([, v]) => v === counted)?.[0] ?? level,
        messageKey: 'message',
        timestamp: () => `,"time":"${new Date().toISOString()}"`,
        base: options.component ? { component: options.component } : {},
        formatters: {
          level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }),
        },
        redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
        hooks: {
          logMethod(args, method, lvl) {
            if (lvl < threshold) return dropped(lvl, 'level', args);
            // 30 is info: below warn, lines may be excluded or sampled.
            if (lvl <= 30) {
              if (exclude.length > 0) {
                const message = args.find((a) => typeof a === 'string') as string | undefined;
                if (message !== undefined && exclude.some((r) => r.test(message))) return dropped(lvl, 'excluded', args);
              }
              if (rate < 1 && Math.random() >= rate) return dropped(lvl, 'sampled', args);
            }
            method.apply(this, args);
          },
          streamWrite(line) {
            logTally.add(
              {
                component,
                severity: /"severity":"([A-Z]+)"/.exec(line)?.[1] ?? 'DEFAULT',
                outcome: 'kept',
                domain: /"domain":"([^"]+)"/.exec(line)?.[1],
                product: /"product":"([^"]+)"/.exec(line)?.[1],
                source: /"source":"([^"]+)"/.exec(line)?.[1],
              },
              Buffer.byteLength(line),
            );
            return line;
          },
        },
      },
      options.destination ?? (logFormat() === 'text' ? personDestination(process.stderr) : pino.destination(2)),
    );
  });
}

/**
 * How lines are written to standard error: `json` (one object a line, for a log collector) or `text` (a sentence a
 * line, for a person). `FINMESH_LOG_FORMAT` chooses; by default text on a terminal, JSON anywhere else.
 */
export function logFormat(env: NodeJS.ProcessEnv = process.env, stream: { isTTY?: boolean } = process.stderr): 'json' | 'text' {
  const chosen = env.FINMESH_LOG_FORMAT;
  if (chosen === 'json' || chosen === 'text') return chosen;
  return stream.isTTY ? 'text' : 'json';
}

const SEVERITY_COLOUR: Record<string, number> = { WARNING: 33, ERROR: 31, CRITICAL: 31, DEBUG: 2 };
/** Fields shown after a person's line when present and not already in its message, with the word they read as. */
const PERSON_FIELDS: [field: string, label: string][] = [
  ['job', 'job'],
  ['source', 'source'],
  ['product', 'product'],
  ['dataset', 'dataset'],
  ['path', 'file'],
  ['err_message', 'error'],
  ['err', 'error'],
  ['run_id', 'run'],
];

/**
 * One JSON log line as a person reads it: `12:03:04 WARNING runs: ingest:acquirer-settlements succeeded in 2 s; 1
 * row quarantined · run 01a2…`. Redaction has already happened (the JSON line is pino's output).
 */
export function personLine(json: string, colour: boolean): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const severity = typeof o.severity === 'string' ? o.severity : 'INFO';
  const time = typeof o.time === 'string' ? o.time.slice(11, 19) : '';
  const message = typeof o.message === 'string' ? o.message : '';
  const about: string[] = [];
  for (const [field, label] of PERSON_FIELDS) {
    const v = o[field];
    if (v === undefined || v === null || v === '') continue;
    const text =
      typeof v === 'object' && 'message' in v ? String((v as { message: unknown }).message) : typeof v === 'string' ? v : JSON.stringify(v);
    if (message.includes(text)) continue;
    about.push(`${label} ${text}`);
  }
  const sev = colour && SEVERITY_COLOUR[severity] ? `\x1b[${SEVERITY_COLOUR[severity]}m${severity}\x1b[0m` : severity;
  const component = typeof o.component === 'string' ? `${o.component}: ` : '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: a partner's file name or a server's message may hold escapes
  const safe = (t: string) => t.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return `${time} ${sev} ${safe(component + message)}${about.length ? ` · ${safe(about.join(' · '))}` : ''}\n`;
}

/**
 * A destination writing each line as a sentence to a terminal; it first clears the line a progress display may be
 * rewriting in place (the progress draws itself again at its next tick).
 */
export function personDestination(stream: NodeJS.WriteStream): DestinationStream {
  const colour = !(process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') && process.env.TERM !== 'dumb';
  return {
    write(line: string) {
      stream.write(`${stream.isTTY ? '\r\x1b[2K' : ''}${personLine(line, colour && Boolean(stream.isTTY))}`);
    },
  };
}

function severityOf(level: number): string {
  const name = Object.entries(LEVELS).find(([, v]) => v === level)?.[0] ?? 'info';
  return SEVERITY[name] ?? 'DEFAULT';
}

/** How finmesh.yaml's `logging` section reads (`config/schema.ts`). */
export interface LoggingSettings {
  level: string;
  components: Record<string, { level?: string | undefined; sampleRate: number; exclude?: string[] | undefined }>;
}

/** A component's logger as finmesh.yaml's `logging` configures it. */
export function componentLogger(logging: LoggingSettings, component: string, destination?: DestinationStream): Logger {
  const c = logging.components[component];
  return createLogger({
    component,
    level: process.env.FINMESH_LOG_LEVEL ?? c?.level ?? logging.level,
    sampleRate: c?.sampleRate ?? 1,
    exclude: c?.exclude,
    destination,
  });
}
