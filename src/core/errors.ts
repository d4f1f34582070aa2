/** The closed set of error codes a user can act on. Anything else is a bug and stays a bare `Error`. */
export const ERROR_CODES = [
  'CONFIG_INVALID',
  'NOT_FOUND',
  'CONFLICT',
  'TIMEOUT',
  'UNAVAILABLE',
  'UNAUTHENTICATED',
  'PERMISSION',
  'DATA_INVALID',
  'QUERY_INVALID',
  'NOT_SUPPORTED',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** One problem found while validating a project: where it is, what was expected, what was found. */
export interface ValidationIssue {
  /** Path of the file relative to the project root. */
  file: string;
  /** Path inside the YAML document, dotted (`schema[0].properties[2].logicalType`); empty for the whole file. */
  path: string;
  expected: string;
  found: string;
}

export class FinmeshError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FinmeshError';
    this.code = code;
  }
}

/** A project that failed validation; carries every issue found, not just the first. */
export class ConfigError extends FinmeshError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[]) {
    super('CONFIG_INVALID', formatIssues(issues));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

export function formatIssue(i: ValidationIssue): string {
  const where = i.path ? `${i.file}: ${i.path}` : i.file;
  return `${where}: expected ${i.expected}, found ${i.found}`;
}

export function formatIssues(issues: ValidationIssue[]): string {
  const n = issues.length;
  return `${n} problem${n === 1 ? '' : 's'} in the project:\n${issues.map((i) => `  - ${formatIssue(i)}`).join('\n')}`;
}

export function isFinmeshError(e: unknown): e is FinmeshError {
  return e instanceof FinmeshError;
}
