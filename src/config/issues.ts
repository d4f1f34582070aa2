import type { z } from 'zod';
import type { ValidationIssue } from '../core/errors.js';

/** Reads the value at a path of keys and indexes; `undefined` when any step is absent. */
export function valueAt(doc: unknown, path: readonly (string | number | symbol)[]): unknown {
  let cur: unknown = doc;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[key as string | number];
  }
  return cur;
}

/** Longest stretch of a found value an issue quotes: a binary file read as text must not flood the terminal. */
const MAX_QUOTED = 80;

export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string')
    return v.length > MAX_QUOTED ? `${JSON.stringify(v.slice(0, MAX_QUOTED))}… (${v.length} characters)` : JSON.stringify(v);
  if (Array.isArray(v)) return `a list of ${v.length}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/** Turns zod's issues into finmesh's: file, YAML path, what was expected, what was found. */
export function zodIssues(file: string, doc: unknown, error: z.ZodError, prefix: PropertyKey[] = []): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const issue of error.issues) {
    const path = [...prefix, ...issue.path];
    const found = valueAt(doc, issue.path);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          out.push({ file, path: formatPath([...path, key]), expected: 'no such field', found: `the field "${key}"` });
        }
        break;
      case 'invalid_type':
        out.push({
          file,
          path: formatPath(path),
          expected: found === undefined ? `${article(issue.expected)} (required)` : article(issue.expected),
          found: describeValue(found),
        });
        break;
      case 'invalid_value':
        out.push({
          file,
          path: formatPath(path),
          expected: `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`,
          found: describeValue(found),
        });
        break;
      case 'invalid_union':
        out.push({ file, path: formatPath(path), expected: issue.message, found: describeValue(found) });
        break;
      default:
        out.push({
          file,
          path: formatPath(path),
          expected: issue.message
            .replace(/^Invalid input: expected /, '')
            .replace(/^Invalid string: must match pattern .*/, 'a value matching the required pattern'),
          found: describeValue(found),
        });
    }
  }
  return out;
}

function article(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
