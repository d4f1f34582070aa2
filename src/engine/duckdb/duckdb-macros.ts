import { hmacPads } from '../../core/hmac.js';
import { duckDbDialect as d } from './duckdb-dialect.js';

/**
 * The functions models and checks call, as DuckDB macros:
 * - `tokenize(v)`: HMAC-SHA256 of `v` under the project's tokenisation key, hex. Deterministic, so joins on the
 *   token still work; irreversible without the key. Without a key it raises an error naming the setting.
 * - `mask_pan(v)`: keeps a card number's first 6 and last 4 digits.
 * - `pan_like(s)`, `luhn_valid(s)`: a card network's prefix and length, and the Luhn checksum of a digit string.
 */
export function macroSql(key: string | undefined): string {
  return [tokenizeMacroSql(key), FIXED_MACROS].join('; ');
}

/** `tokenize(v)` alone: under `key`, or raising an error that names the setting when there is none. */
export function tokenizeMacroSql(key: string | undefined): string {
  const tokenize = key
    ? (() => {
        const { ipad, opad } = hmacPads(key);
        return `CASE WHEN v IS NULL THEN NULL ELSE sha256(unhex(${d.quoteLiteral(opad)}) || unhex(sha256(unhex(${d.quoteLiteral(ipad)}) || encode(CAST(v AS VARCHAR))))) END`;
      })()
    : `error('tokenize() needs the tokenisation key: set tokenization.key in finmesh.yaml')`;
  return `CREATE OR REPLACE MACRO tokenize(v) AS ${tokenize}`;
}

const LUHN_MACROS = `CREATE OR REPLACE MACRO pan_like(s) AS (
  (length(s) = 13 AND regexp_full_match(s, '4[0-9]*'))
  OR (length(s) = 14 AND regexp_full_match(s, '3(0[0-5]|[68])[0-9]*'))
  OR (length(s) = 15 AND regexp_full_match(s, '3[47][0-9]*'))
  OR (length(s) = 16 AND regexp_full_match(s, '(4|5[1-5]|2[2-7]|6|35)[0-9]*'))
  OR (length(s) BETWEEN 17 AND 19 AND regexp_full_match(s, '(4|6|35)[0-9]*')));
CREATE OR REPLACE MACRO luhn_valid(s) AS (
  list_sum(list_transform(range(length(s)), i ->
    CASE WHEN i % 2 = 1
      THEN (CAST(substr(s, length(s) - i, 1) AS INTEGER) * 2) - CASE WHEN CAST(substr(s, length(s) - i, 1) AS INTEGER) * 2 > 9 THEN 9 ELSE 0 END
      ELSE CAST(substr(s, length(s) - i, 1) AS INTEGER) END)) % 10 = 0)`;

/** Every macro but `tokenize`: they need no key, so an engine installs them as it starts (`DuckDbEngine.create`). */
export const FIXED_MACROS = [
  `CREATE OR REPLACE MACRO mask_pan(v) AS CASE WHEN v IS NULL THEN NULL WHEN length(regexp_replace(CAST(v AS VARCHAR), '[\\s-]', '', 'g')) < 10 THEN '******' ELSE left(regexp_replace(CAST(v AS VARCHAR), '[\\s-]', '', 'g'), 6) || '******' || right(regexp_replace(CAST(v AS VARCHAR), '[\\s-]', '', 'g'), 4) END`,
  LUHN_MACROS,
].join('; ');
