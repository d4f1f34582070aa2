import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { FinmeshError, type ValidationIssue } from '../core/errors.js';
import { formatPath } from './issues.js';
import type { Project } from './project.js';

/**
 * Resolves `env:NAME` or `file:path` (relative paths from the project root). The value is returned to the
 * caller only; it never appears in an error message, a log line or lineage.
 */
export function resolveSecret(ref: string, projectRoot: string, what: string): string {
  if (ref.startsWith('env:')) {
    const name = ref.slice(4);
    const value = process.env[name];
    if (value === undefined || value === '') {
      throw new FinmeshError('CONFIG_INVALID', `${what}: the environment variable ${name} is not set (secret reference "${ref}")`);
    }
    return value;
  }
  if (ref.startsWith('file:')) {
    const p = ref.slice(5);
    const path = isAbsolute(p) ? p : resolve(projectRoot, p);
    try {
      return readFileSync(path, 'utf8').trim();
    } catch (cause) {
      throw new FinmeshError('CONFIG_INVALID', `${what}: cannot read the secret file named by "${ref}"`, { cause });
    }
  }
  throw new FinmeshError('CONFIG_INVALID', `${what}: expected a secret reference (env:NAME or file:path), found something else`);
}

const SECRET_REF = /^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/;

/**
 * Every secret reference of the project (`env:NAME`, `file:path` in finmesh.yaml and the sources) that does not
 * resolve here: the variable is unset or empty, the file cannot be read. Values are never read into a message.
 */
export function secretIssues(project: Project): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const walk = (file: string, v: unknown, path: (string | number)[]) => {
    if (typeof v === 'string') {
      if (!SECRET_REF.test(v)) return;
      try {
        resolveSecret(v, project.root, '');
      } catch (e) {
        const found = v.startsWith('env:')
          ? `the environment variable ${v.slice(4)} is not set`
          : `the file of "${v}" cannot be read (${((e as Error).cause as NodeJS.ErrnoException | undefined)?.code ?? 'unreadable'})`;
        issues.push({ file, path: formatPath(path), expected: 'a secret reference that resolves', found });
      }
    } else if (Array.isArray(v)) {
      for (const [i, x] of v.entries()) walk(file, x, [...path, i]);
    } else if (v && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) if (k !== 'description' && k !== 'simulator') walk(file, x, [...path, k]);
  };
  walk('finmesh.yaml', project.config, []);
  for (const s of project.sources) walk(s.file, s.config, []);
  return issues;
}
