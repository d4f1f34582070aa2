import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { RUN_EVENT_SCHEMA } from './openlineage.js';

const DIR = fileURLToPath(new URL('../../schemas/openlineage/', import.meta.url));
const GENERIC = {
  run: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet',
  job: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobFacet',
  dataset: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet',
} as const;

let compiled: ((event: unknown) => string[]) | undefined;

/**
 * What is wrong with an OpenLineage run event by the 2-0-2 schema and the schema of each facet it carries (the ones
 * shipped in `schemas/openlineage/`; other facets by the generic facet schema). Empty when the event is valid.
 * At most `limit` messages, each naming the JSON path.
 */
export function openLineageErrors(event: unknown, limit = 10): string[] {
  compiled ??= compile();
  return compiled(event).slice(0, limit);
}

function compile(): (event: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema(JSON.parse(readFileSync(join(DIR, 'OpenLineage.json'), 'utf8')));
  const facetSchema = new Map<string, string>();
  for (const f of readdirSync(join(DIR, 'facets')).filter((n) => n.endsWith('.json'))) {
    const schema = JSON.parse(readFileSync(join(DIR, 'facets', f), 'utf8')) as { $id: string; properties?: Record<string, unknown> };
    ajv.addSchema(schema);
    for (const key of Object.keys(schema.properties ?? {})) facetSchema.set(key, schema.$id);
  }
  const text = (where: string) =>
    (ajv.errors ?? []).map(
      (e) =>
        `${where}${e.instancePath || ''}: ${e.message ?? 'invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );
  return (event) => {
    if (!ajv.validate({ $ref: RUN_EVENT_SCHEMA }, event)) return text('event');
    const errors: string[] = [];
    const e = event as {
      run?: { facets?: object };
      job?: { facets?: object };
      inputs?: { facets?: object; inputFacets?: object }[];
      outputs?: { facets?: object; outputFacets?: object }[];
    };
    const check = (where: string, kind: keyof typeof GENERIC, facets: object | undefined) => {
      for (const [key, facet] of Object.entries(facets ?? {})) {
        const id = facetSchema.get(key);
        const ok = id ? ajv.validate({ $ref: id }, { [key]: facet }) : ajv.validate({ $ref: GENERIC[kind] }, facet);
        if (!ok) errors.push(...text(`${where}.${key}`));
      }
    };
    check('run.facets', 'run', e.run?.facets);
    check('job.facets', 'job', e.job?.facets);
    for (const [i, d] of (e.inputs ?? []).entries()) {
      check(`inputs[${i}].facets`, 'dataset', d.facets);
      check(`inputs[${i}].inputFacets`, 'dataset', d.inputFacets);
    }
    for (const [i, d] of (e.outputs ?? []).entries()) {
      check(`outputs[${i}].facets`, 'dataset', d.facets);
      check(`outputs[${i}].outputFacets`, 'dataset', d.outputFacets);
    }
    return errors;
  };
}
