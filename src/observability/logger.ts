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
  'pan',
  '*.password',
  '*.privateKey',
  '*.key',
  '*.token',
  '*.secret',
  '*.cpf',
  '*.pan',
  '*.payer',
];

export interface LoggerOptions {
  level?: string;
  component?: string;
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
    },
    options.destination ?? pino.destination(2),
  );
}
