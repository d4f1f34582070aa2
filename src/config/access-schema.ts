import { z } from 'zod';
import { ACCESS_LEVELS, API_PERMISSIONS, DEFAULT_MASKING, MASKING_RULES } from './access-names.js';
import { secretRef, ZONES } from './schema.js';

export {
  ACCESS_FILE,
  ACCESS_LEVELS,
  type AccessLevel,
  API_PERMISSIONS,
  type ApiPermission,
  DEFAULT_MASKING,
  MASKING_RULES,
  type MaskingRule,
  PROTECTED_CLASSIFICATIONS,
  type ProtectedClassification,
} from './access-names.js';

/**
 * The access model, `governance/access.yaml`: personas with grants on domains, zones and datasets, what each sees of
 * every classification, row filters, time-boxed break-glass grants, and the principals (API tokens, OIDC claims) that
 * act as a persona. docs/governance.md describes it; `src/governance/access.ts` decides with it.
 */

const personaName = z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-kebab-case persona name');
const isoInstant = z.iso.datetime({ offset: true });
const isoDay = z.union([z.iso.date(), isoInstant]);

const levels = z
  .object({
    confidential: z.enum(ACCESS_LEVELS).optional(),
    pii: z.enum(ACCESS_LEVELS).optional(),
    pci: z.enum(ACCESS_LEVELS).optional(),
  })
  .strict();

export const grantSchema = z
  .object({
    /** Domains the grant covers (`*`: every domain). */
    domains: z.array(z.string().min(1)).min(1).default(['*']),
    /** Zones the grant covers; bronze and quarantine need `raw: true` on the persona for their PII/PCI. */
    zones: z.array(z.enum(ZONES)).min(1).default(['silver', 'gold']),
    /** Only these datasets (`payments_gold.daily_volume_by_method`, `payments_gold.*`); all of the zones' when absent. */
    datasets: z
      .array(z.string().regex(/^[a-z][a-z0-9_]*\.([a-z][a-z0-9_]*|\*)$/, 'a dataset name <domain>_<zone>.<name> or <domain>_<zone>.*'))
      .optional(),
  })
  .strict();
export type Grant = z.infer<typeof grantSchema>;

export const rowFilterSchema = z
  .object({
    dataset: z.string().regex(/^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, 'a dataset name <domain>_<zone>.<name>'),
    /** A SQL condition over the dataset's columns; the persona sees only the rows where it holds. */
    where: z.string().min(1),
    description: z.string().optional(),
  })
  .strict();
export type RowFilter = z.infer<typeof rowFilterSchema>;

export const personaSchema = z
  .object({
    description: z.string().optional(),
    grants: z.array(grantSchema).default([]),
    /** Per classification: clear, masked, tokenised or denied (denied when absent). */
    classifications: levels.default({}),
    /** May read PII/PCI in landing, bronze and quarantine (raw data); without it those columns are denied. */
    raw: z.boolean().default(false),
    rowFilters: z.array(rowFilterSchema).default([]),
    /** HTTP API routes beyond `/healthz`: catalog, query, runs, lineage:read, lineage:write, audit, metrics. */
    api: z.array(z.enum(API_PERMISSIONS)).default(['catalog', 'query']),
    /** Google Cloud principals that act as this persona (`group:risk@fintech.example`, `serviceAccount:...`). */
    gcp: z
      .object({
        members: z
          .array(
            z.string().regex(/^(user|group|serviceAccount|domain):.+$/, 'user:, group:, serviceAccount: or domain: followed by a name'),
          )
          .default([]),
      })
      .strict()
      .optional(),
  })
  .strict();
export type Persona = z.infer<typeof personaSchema>;

export const tokenSchema = z
  .object({
    /** Names the token in the audit log (never its value). */
    name: z.string().regex(/^[a-z][a-z0-9-]*$/, 'a lower-kebab-case token name'),
    persona: personaName,
    /** Where the token's value is (`env:NAME`, `file:path`); finmesh keeps only its SHA-256. */
    secret: secretRef.optional(),
    /** Or the SHA-256 of the value (hex), so the access model in git holds no secret at all. */
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex (64 characters)')
      .optional(),
    /** The token stops working at this day or instant. */
    expires: isoDay,
    revoked: z.boolean().default(false),
  })
  .strict()
  .refine((t) => (t.secret === undefined) !== (t.sha256 === undefined), {
    message: 'either secret (a reference to the value) or sha256 (of the value), not both',
    path: ['secret'],
  });
export type ApiToken = z.infer<typeof tokenSchema>;

export const oidcSchema = z
  .object({
    issuer: z.url(),
    audience: z.string().min(1),
    /** The issuer's key set; found from `<issuer>/.well-known/openid-configuration` when absent. */
    jwksUri: z.url().optional(),
    /** The claim whose values name groups (a string or a list of strings). */
    claim: z.string().min(1).default('groups'),
    /** Claim value → persona; the first value of the claim that maps wins. */
    personas: z.record(z.string(), personaName),
    /** The claim that names the principal in the audit log. */
    subjectClaim: z.string().default('sub'),
  })
  .strict();
export type OidcSettings = z.infer<typeof oidcSchema>;

export const breakGlassSchema = z
  .object({
    persona: personaName,
    /** Why (an incident, a ticket): written to the audit log with every use. */
    reason: z.string().min(10, 'a reason of at least 10 characters (an incident or ticket)'),
    approvedBy: z.string().min(1),
    from: isoInstant.optional(),
    until: isoInstant,
    grants: z.array(grantSchema).default([]),
    classifications: levels.default({}),
    raw: z.boolean().optional(),
  })
  .strict();
export type BreakGlass = z.infer<typeof breakGlassSchema>;

export const accessModelSchema = z
  .object({
    apiVersion: z.literal('finmesh/v1'),
    kind: z.literal('AccessModel'),
    description: z.string().optional(),
    /** How `masked` columns of each classification are masked. */
    masking: z
      .object({
        confidential: z.enum(MASKING_RULES).default(DEFAULT_MASKING.confidential),
        pii: z.enum(MASKING_RULES).default(DEFAULT_MASKING.pii),
        pci: z.enum(MASKING_RULES).default(DEFAULT_MASKING.pci),
      })
      .strict()
      .default(DEFAULT_MASKING),
    personas: z.record(personaName, personaSchema),
    tokens: z.array(tokenSchema).default([]),
    oidc: oidcSchema.optional(),
    breakGlass: z.array(breakGlassSchema).default([]),
    server: z
      .object({
        /** `/metrics` answers without a token (for a scraper inside a private network); otherwise it needs `metrics`. */
        publicMetrics: z.boolean().default(false),
      })
      .strict()
      .default({ publicMetrics: false }),
    /** The persona `finmesh query` runs as without `--as` (the FINMESH_PERSONA variable overrides it). */
    cli: z.object({ persona: personaName.optional() }).strict().default({}),
  })
  .strict();
export type AccessModel = z.infer<typeof accessModelSchema>;
