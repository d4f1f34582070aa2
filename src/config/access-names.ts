/**
 * The names and fixed lists of the access model (`governance/access.yaml`), apart from its schema: the code that
 * decides with an access model loads no schema library (`access-schema.ts` validates it when the project is read).
 */

/** What a persona sees of a column of a classification: as stored, masked, tokenised (keyed HMAC) or not at all. */
export const ACCESS_LEVELS = ['clear', 'masked', 'tokenised', 'denied'] as const;
export type AccessLevel = (typeof ACCESS_LEVELS)[number];

/** The classifications access is decided on; `public` and `internal` columns are readable by any persona granted the dataset. */
export const PROTECTED_CLASSIFICATIONS = ['confidential', 'pii', 'pci'] as const;
export type ProtectedClassification = (typeof PROTECTED_CLASSIFICATIONS)[number];

/**
 * How a `masked` column is masked, the same rules BigQuery's data masking offers: the last four characters, a SHA-256
 * hash, NULL, the type's default value (empty string, 0, 1970-01-01), an e-mail's domain only, a date's year.
 */
export const MASKING_RULES = ['last-four', 'hash', 'null', 'default', 'email', 'year'] as const;
export type MaskingRule = (typeof MASKING_RULES)[number];

/** What a persona may do through the HTTP API beyond reading data products with `query`. */
export const API_PERMISSIONS = ['catalog', 'query', 'runs', 'lineage:read', 'lineage:write', 'audit', 'metrics'] as const;
export type ApiPermission = (typeof API_PERMISSIONS)[number];

/** How each classification is masked unless the access model says otherwise. */
export const DEFAULT_MASKING: Record<ProtectedClassification, MaskingRule> = { pci: 'last-four', pii: 'hash', confidential: 'null' };

/** Where the access model lives in a project. */
export const ACCESS_FILE = 'governance/access.yaml';
