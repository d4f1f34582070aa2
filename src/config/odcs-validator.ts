import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import addFormatsModule from 'ajv-formats';
import type { ValidationIssue } from '../core/errors.js';
import { describeValue, valueAt } from './issues.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../schemas/odcs/odcs-json-schema-v3.1.0.json', import.meta.url));

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv2019({ allErrors: true, strict: false });
    const addFormats = addFormatsModule as unknown as (a: Ajv2019) => void;
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
