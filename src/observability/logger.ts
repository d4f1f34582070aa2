import pino, { type Logger } from 'pino';

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
  '*.connectionString',
];

export interface LoggerOptions {
  level?: string;
  component?: string;
  /** Share of debug/info lines kept (0..1); warnings and errors are always kept. This is how log spend is controlled. */
  sampleRate?: number;
  /** Where lines go; standard error by default so standard output stays for results. */
  destination?: pino.DestinationStream;
}

/** One JSON object a line: `time`, `severity`, `message`, plus bindings such as `run_id` and `job`. */
export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env.FINMESH_LOG_LEVEL ?? 'info',
      messageKey: 'message',
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      base: options.component ? { component: options.component } : {},
      formatters: {
        level: (label) => ({ severity: SEVERITY[label] ?? 'DEFAULT' }),
      },
      redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
      hooks: {
        logMethod(args, method, level) {
          // 30 is info: below warn, lines are sampled.
          if (level <= 30 && (options.sampleRate ?? 1) < 1 && Math.random() >= (options.sampleRate ?? 1)) return;
          method.apply(this, args);
        },
      },
    },
    options.destination ?? pino.destination(2),
  );
}

/** A component's logger as finmesh.yaml's `logging` configures it. */
export function componentLogger(
  logging: { level: string; components: Record<string, { level?: string | undefined; sampleRate: number }> },
  component: string,
  destination?: pino.DestinationStream,
): Logger {
  const c = logging.components[component];
  return createLogger({
    component,
    level: process.env.FINMESH_LOG_LEVEL ?? c?.level ?? logging.level,
    sampleRate: c?.sampleRate ?? 1,
    destination,
  });
}
