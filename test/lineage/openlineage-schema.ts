import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { ROOT } from '../helpers.js';

const DIR = join(ROOT, 'test/fixtures/openlineage');
const RUN_EVENT = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent';

/** Validates events against the OpenLineage 2-0-2 schema and every facet against its own facet schema. */
export function openLineageValidator(): (event: unknown) => string[] {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  (addFormatsModule as unknown as (a: Ajv2020) => void)(ajv);
  ajv.addSchema(JSON.parse(readFileSync(join(DIR, 'OpenLineage.json'), 'utf8')));
  const facetSchema = new Map<string, string>();
  for (const f of readdirSync(join(DIR, 'facets'))) {
    const schema = JSON.parse(readFileSync(join(DIR, 'facets', f), 'utf8')) as { $id: string; properties?: Record<string, unknown> };
    ajv.addSchema(schema);
    for (const key of Object.keys(schema.properties ?? {})) facetSchema.set(key, schema.$id);
  }
  const generic = {
    run: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunFacet',
    job: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/JobFacet',
    dataset: 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/DatasetFacet',
  };
  return (event) => {
    const errors: string[] = [];
    if (!ajv.validate({ $ref: RUN_EVENT }, event)) errors.push(`RunEvent: ${ajv.errorsText()}`);
    const e = event as {
      run?: { facets?: object };
      job?: { facets?: object };
      inputs?: { facets?: object; inputFacets?: object }[];
      outputs?: { facets?: object; outputFacets?: object }[];
    };
    const check = (where: string, kind: keyof typeof generic, fs: object | undefined) => {
      for (const [key, facet] of Object.entries(fs ?? {})) {
        const id = facetSchema.get(key);
        const ok = id ? ajv.validate({ $ref: id }, { [key]: facet }) : ajv.validate({ $ref: generic[kind] }, facet);
        if (!ok) errors.push(`${where}.${key}: ${ajv.errorsText()}`);
      }
    };
    check('run', 'run', e.run?.facets);
    check('job', 'job', e.job?.facets);
    for (const d of [...(e.inputs ?? []), ...(e.outputs ?? [])]) {
      check('dataset', 'dataset', d.facets);
      check('dataset', 'dataset', (d as { inputFacets?: object }).inputFacets);
      check('dataset', 'dataset', (d as { outputFacets?: object }).outputFacets);
    }
    return errors;
  };
}
