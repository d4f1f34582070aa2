import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Ajv2019 as Ajv } from 'ajv/dist/2019.js';
import type { ValidationIssue } from '../core/errors.js';
import { describeValue, valueAt } from './issues.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/odcs/odcs-json-schema-v3.1.0.json', import.meta.url));

let compiled: ValidateFunction | undefined;

const require = createRequire(import.meta.url);

function validator(): ValidateFunction {
  if (!compiled) {
    // The compiled CLI ships the validator generated ahead of time by `npm run build` (compiling the schema takes
    // most of a second); from the TypeScript sources it is compiled here.
    try {
      compiled = require('./odcs-validate.generated.cjs') as ValidateFunction;
      return compiled;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
    }
    const { Ajv2019 } = require('ajv/dist/2019.js') as { Ajv2019: typeof Ajv };
    const ajv = new Ajv2019({ allErrors: true, strict: false });
    const addFormats = require('ajv-formats') as (a: Ajv) => void;
    addFormats(ajv);
    compiled = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
  }
  return compiled;
}

/** Validates a parsed contract against the ODCS v3.1.0 JSON schema; returns one issue per schema error. */
export function validateOdcs(file: string, doc: unknown): ValidationIssue[] {
  const validate = validator();
  if (validate(doc)) return [];
  const errors = (validate.errors ?? []).filter(isUseful);
  const seen = new Set<string>();
  const issues: ValidationIssue[] = [];
  for (const e of errors) {
    const path = pointerToPath(e.instancePath, extraField(e));
    const issue: ValidationIssue = { file, path, expected: expectedOf(e), found: foundOf(doc, e) };
    const key = `${issue.path}|${issue.expected}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

/** `oneOf`/`anyOf`/`if` errors repeat what their branches already said. */
function isUseful(e: ErrorObject): boolean {
  return !['oneOf', 'anyOf', 'if', 'allOf'].includes(e.keyword);
}

function pointerToPath(pointer: string, extra?: string): string {
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (extra) parts.push(extra);
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

function expectedOf(e: ErrorObject): string {
  if (e.keyword === 'enum') return `one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')} (ODCS v3.1)`;
  if (e.keyword === 'required') return `the field "${String(e.params.missingProperty)}" (ODCS v3.1)`;
  if (extraField(e)) return 'no such field (not in ODCS v3.1; put finmesh fields under customProperties)';
  return `${e.message ?? e.keyword} (ODCS v3.1)`;
}

function foundOf(doc: unknown, e: ErrorObject): string {
  if (e.keyword === 'required') return 'nothing';
  const extra = extraField(e);
  if (extra) return `the field "${extra}"`;
  const path = e.instancePath.split('/').slice(1);
  return describeValue(valueAt(doc, path));
}

/** The name of a field the schema does not allow, for `additionalProperties` and `unevaluatedProperties` errors. */
function extraField(e: ErrorObject): string | undefined {
  if (e.keyword === 'additionalProperties') return String(e.params.additionalProperty);
  if (e.keyword === 'unevaluatedProperties') return String(e.params.unevaluatedProperty);
  return undefined;
}
