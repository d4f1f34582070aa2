// The layering of src/ (DESIGN §8b, STYLE "Layout") as import rules. `checkLayering(root)` parses every source file
// under root/src with the TypeScript parser (no program, no type check: fast), resolves each relative import to a
// path under root, and returns the imports that break a rule. test/architecture/layering.test.ts runs it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative, sep } from 'node:path';
import ts from 'typescript';

/**
 * Adapter folders, as root-relative folder patterns; `*` stands for any one folder name, so `src/bus/*` makes every
 * subfolder of src/bus an adapter. An adapter's port is the files directly in the folder above it. A new port with
 * adapters is one line here; a new adapter under a `*` port needs none.
 */
export const ADAPTERS: readonly string[] = [
  'src/bus/*',
  'src/engine/*',
  'src/lake/*',
  'src/metadata/*',
  'src/lineage/transports',
  'src/sources/changefeed/*',
  'src/sources/files/*',
];

/** The only folders that may import a `registry.ts` (they compose ports and choose adapters). */
export const REGISTRY_READERS: readonly string[] = ['src/jobs', 'src/server', 'src/cli', 'src/demo'];

/**
 * Cloud SDKs and heavy optional packages: imported statically (including `import type`) only inside an adapter
 * folder or one of `alsoIn`; anywhere else only through a dynamic `import()`, so the embedded default never loads
 * them. A pattern is a package name or `@scope/*`.
 */
export const OPTIONAL_PACKAGES: readonly { pattern: string; alsoIn?: readonly string[] }[] = [
  { pattern: '@google-cloud/*' },
  { pattern: '@azure/cosmos' },
  { pattern: 'kafkajs' },
  // The native checksum kafkajs is given (src/bus/kafka/kafkajs.ts).
  { pattern: '@node-rs/*' },
  { pattern: '@nats-io/*' },
  { pattern: 'openpgp', alsoIn: ['src/sources/formats/pgp.ts'] },
  { pattern: 'pg' },
  { pattern: 'pg-logical-replication' },
  // A headless browser, only when documents are rendered (`finmesh docs`).
  { pattern: 'playwright-core' },
  { pattern: 'mermaid' },
];

export const RULES = {
  core: 'rule 1: src/core imports nothing of ours (no relative import may leave src/core)',
  adapter: 'rule 2: an adapter imports only its port (files directly in the folder above it), its own folder and src/core',
  registry: `rule 3: a registry.ts is read only by ${REGISTRY_READERS.join(', ')} (not by another registry: pass it the port instead)`,
  cli: 'rule 4: nothing imports src/cli (outside src/cli itself and bin/)',
  demo: 'rule 5: the product does not depend on the demo: only src/demo and src/cli import src/demo',
  sdk: 'rule 6: a cloud SDK or heavy optional package is imported statically only inside an adapter folder; elsewhere use a dynamic import()',
} as const;
export type Rule = keyof typeof RULES;

export type ImportKind = 'static' | 'type' | 'dynamic';

export interface Import {
  specifier: string;
  kind: ImportKind;
  line: number;
}

export interface Violation {
  /** Root-relative, with forward slashes: `src/x/y.ts`. */
  file: string;
  line: number;
  specifier: string;
  kind: ImportKind;
  rule: Rule;
}

/** `src/x/y.ts imports ../../z.js: rule n: … (line 3, type-only import)` */
export function formatViolation(v: Violation): string {
  const kind = v.kind === 'static' ? '' : `, ${v.kind === 'type' ? 'type-only' : 'dynamic'} import`;
  return `${v.file} imports ${v.specifier}: ${RULES[v.rule]} (line ${v.line}${kind})`;
}

/** Every import of one file: import/export declarations, `import x = require()`, `import()` calls and `import('x').T` types. */
export function parseImports(fileName: string, text: string): Import[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false, scriptKind(fileName));
  const found: Import[] = [];
  const add = (node: ts.Node, spec: ts.Node | undefined, kind: ImportKind) => {
    if (spec && (ts.isStringLiteral(spec) || ts.isNoSubstitutionTemplateLiteral(spec))) {
      found.push({ specifier: spec.text, kind, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.importClause?.isTypeOnly ? 'type' : 'static');
    } else if (ts.isExportDeclaration(node)) {
      add(node, node.moduleSpecifier, node.isTypeOnly ? 'type' : 'static');
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node, node.moduleReference.expression, node.isTypeOnly ? 'type' : 'static');
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node, node.arguments[0], 'dynamic');
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node, node.argument.literal, 'type');
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Checks every source file under `root`/src against the rules; the result is sorted by file and line. */
export function checkLayering(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const abs of sourceFiles(join(root, 'src'))) {
    const file = toPosix(relative(root, abs));
    for (const imp of parseImports(abs, readFileSync(abs, 'utf8'))) {
      const target = imp.specifier.startsWith('.') ? resolveRelative(root, abs, imp.specifier) : undefined;
      for (const rule of rulesBroken(file, imp, target)) {
        violations.push({ file, line: imp.line, specifier: imp.specifier, kind: imp.kind, rule });
      }
    }
  }
  return violations.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

/** The rules one import of `file` breaks. `target` is the root-relative path of a relative import, undefined for a package. */
export function rulesBroken(file: string, imp: Import, target: string | undefined): Rule[] {
  const broken: Rule[] = [];
  if (target === undefined) {
    // Types are erased: only an import that loads the package at run time counts.
    if (imp.kind === 'static' && optionalPackage(imp.specifier, file)) broken.push('sdk');
    return broken;
  }
  if (within(file, 'src/core') && !within(target, 'src/core')) broken.push('core');
  const adapter = adapterOf(file);
  if (adapter && !within(target, adapter) && posix.dirname(target) !== posix.dirname(adapter) && !within(target, 'src/core')) {
    broken.push('adapter');
  }
  if (within(target, 'src') && isRegistry(target) && !REGISTRY_READERS.some((dir) => within(file, dir))) broken.push('registry');
  if (within(target, 'src/cli') && !within(file, 'src/cli')) broken.push('cli');
  if (within(target, 'src/demo') && !within(file, 'src/demo') && !within(file, 'src/cli')) broken.push('demo');
  return broken;
}

/** Whether a static import of `specifier` from `file` breaks rule 6. */
function optionalPackage(specifier: string, file: string): boolean {
  const name = packageName(specifier);
  const entry = OPTIONAL_PACKAGES.find(({ pattern }) =>
    pattern.endsWith('/*') ? name.startsWith(pattern.slice(0, -1)) : name === pattern,
  );
  if (!entry) return false;
  return !adapterOf(file) && !(entry.alsoIn ?? []).some((allowed) => within(file, allowed));
}

/** The root-relative adapter folder that `file` lies in, if any. */
export function adapterOf(file: string): string | undefined {
  const dirs = posix.dirname(file).split('/');
  for (const pattern of ADAPTERS) {
    const parts = pattern.split('/');
    if (parts.length <= dirs.length && parts.every((p, i) => p === '*' || p === dirs[i])) return dirs.slice(0, parts.length).join('/');
  }
  return undefined;
}

const isRegistry = (path: string) => /^registry\.(?:[cm]?ts|tsx|[cm]?js)$/.test(posix.basename(path));

const within = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`);

const toPosix = (p: string) => p.split(sep).join('/');

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** `./x.js` from a file → the root-relative `.ts` it names (ESM specifiers name the emitted `.js`). */
function resolveRelative(root: string, fromAbs: string, specifier: string): string {
  const abs = join(dirname(fromAbs), specifier);
  const asTs = abs.replace(/\.([cm]?)js$/, '.$1ts');
  const candidates = [asTs, abs.replace(/\.js$/, '.tsx'), abs, `${abs}.ts`, join(abs, 'index.ts')];
  const found = candidates.find((c) => existsSync(c) && statSync(c).isFile()) ?? asTs;
  return toPosix(relative(root, found));
}

const SOURCE = /\.(?:[cm]?ts|tsx|[cm]?js|jsx)$/;

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (entry.isFile() && SOURCE.test(entry.name)) out.push(path);
  }
  return out.sort();
}

function scriptKind(fileName: string): ts.ScriptKind {
  if (fileName.endsWith('x')) return fileName.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.JSX;
  return /\.[cm]?js$/.test(fileName) ? ts.ScriptKind.JS : ts.ScriptKind.TS;
}
