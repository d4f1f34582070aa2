import type { Product, Project } from '../config/project.js';
import type { ValidationIssue } from '../core/errors.js';
import { buildDag, renderModel } from '../engine/dag.js';
import type { ColumnInfo, Engine } from '../engine/engine.js';
import { BRONZE_METADATA_COLUMNS } from '../lake/layout.js';
import { contractColumns } from './contract-columns.js';
import { contractMismatches } from './contract-types.js';

/**
 * Binds every model's SQL against its inputs' schemas without touching data, and holds what it produces to the
 * product's contract (every promised column, of the promised type) and settings (`uniqueKey`, `versionColumn`,
 * `partitionBy` and `watermark` name columns it produces): sources as empty tables typed by
 * their schemas, each product as a view of its own model (so a model downstream binds against what its upstream
 * really produces), or, when that model does not bind, as its contract's columns. An unknown column, table or
 * function, or a syntax error, is a configuration issue with the model file and line.
 */
export async function bindModels(project: Project, engine: Engine): Promise<ValidationIssue[]> {
  const issues: ValidationIssue[] = [];
  const { dag } = buildDag(project);
  // A placeholder key: binding never runs tokenize(), it only needs the function to exist.
  await engine.installMacros({ tokenizationKey: 'validate-only' });
  for (const s of project.sources) {
    const columns = [...s.config.schema.map((c) => ({ name: c.name, type: c.type })), ...BRONZE_METADATA_COLUMNS];
    await engine.defineDataset(`${s.dataset.domain}_${s.dataset.zone}`, s.dataset.name, [], columns);
  }
  for (const node of dag.nodes) {
    const { product } = node;
    const schema = `${product.dataset.domain}_${product.dataset.zone}`;
    const sql = renderModel(node, project);
    // A ref() or source() that did not resolve is reported on its own (unknown, or its product did not load).
    if (UNRESOLVED.test(sql)) {
      await engine.defineDataset(schema, product.dataset.name, [], contractColumns(product));
      continue;
    }
    try {
      const columns = await engine.describe(sql);
      issues.push(...contractIssues(product, columns));
      await engine.defineView(schema, product.dataset.name, sql);
    } catch (e) {
      const { line, message } = engineError(e);
      issues.push({
        file: product.modelFile ?? product.contractFile,
        path: line ? `line ${line}` : '',
        expected: 'SQL that binds against its inputs (columns, tables and functions that exist)',
        found: message,
      });
      await engine.defineDataset(schema, product.dataset.name, [], contractColumns(product));
    }
  }
  return issues;
}

const UNRESOLVED = /\b(ref|source)\(\s*'/;

/** The engine's message, first line only, and the model line it points at (DuckDB: `LINE 7:`). */
/** The contract's promises and the product's settings that the model's output does not keep. */
export function contractIssues(product: Product, columns: ColumnInfo[]): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const model = product.modelFile ?? 'model.sql';
  for (const m of contractMismatches(product, columns))
    issues.push({
      file: product.contractFile,
      path: `schema[0].properties[${m.index}]${m.field ? `.${m.field}` : ''}`,
      expected: m.field ? `${m.column} as ${m.expected}, as the contract promises` : `${m.expected}, as the contract promises`,
      found: `${m.found} (${model})`,
    });
  const produced = new Set(columns.map((c) => c.name));
  const settings: [keyof Product['settings'], string[]][] = [
    ['uniqueKey', product.settings.uniqueKey ?? []],
    ['versionColumn', product.settings.versionColumn ? [product.settings.versionColumn] : []],
    ['partitionBy', product.settings.partitionBy ? [product.settings.partitionBy] : []],
    ['watermark', product.settings.watermark ? [product.settings.watermark] : []],
  ];
  for (const [setting, names] of settings) {
    const missing = names.filter((n) => !produced.has(n));
    if (missing.length === 0) continue;
    const i = (product.contract.customProperties ?? []).findIndex((c) => c.property === setting);
    issues.push({
      file: product.contractFile,
      path: i >= 0 ? `customProperties[${i}].value` : `customProperties (property "${setting}")`,
      expected: `${setting} naming columns the model produces (${[...produced].join(', ')})`,
      found: missing.map((n) => JSON.stringify(n)).join(', '),
    });
  }
  return issues;
}

function engineError(e: unknown): { line: number | undefined; message: string } {
  const text = e instanceof Error ? e.message : String(e);
  const line = /\bLINE (\d+):/.exec(text)?.[1];
  const first = text.split('\n')[0] ?? text;
  const candidates = /Candidate bindings: ([^\n]+)/.exec(text)?.[1];
  return { line: line ? Number(line) : undefined, message: candidates ? `${first} (did you mean ${candidates}?)` : first };
}
