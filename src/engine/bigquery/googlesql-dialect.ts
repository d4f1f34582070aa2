import { FinmeshError } from '../../core/errors.js';
import { type ColumnInfo, type MaskRule, maskDefaultLiteral, type SqlDialect } from '../engine.js';
import { googleType, quoteIdent, quoteString } from './googlesql.js';

/**
 * BigQuery's GoogleSQL, for the SQL finmesh writes itself (quality checks, profiles), with DuckDB's meaning kept where
 * the dialects differ: the card-number scan is the same shape-and-Luhn test as the DuckDB macros `pan_like` and
 * `luhn_valid`, and a regular expression must match the whole value as DuckDB's `regexp_full_match` does. Users' SQL is
 * not written here: it is translated from DuckDB's parse tree (`googlesql.ts`).
 */
export class GoogleSqlDialect implements SqlDialect {
  readonly name = 'bigquery';

  quoteIdent(name: string): string {
    return quoteIdent(name);
  }

  quoteLiteral(value: string): string {
    return quoteString(value);
  }

  cast(expr: string, type: string): string {
    return `CAST(${expr} AS ${googleType(type)})`;
  }

  currentTimestamp(): string {
    return 'CURRENT_TIMESTAMP()';
  }

  currentDate(): string {
    return 'CURRENT_DATE()';
  }

  daysAgo(days: number): string {
    return `DATE_SUB(CURRENT_DATE(), INTERVAL ${Math.trunc(days)} DAY)`;
  }

  countIf(condition: string): string {
    return `COUNTIF(${condition})`;
  }

  regexpFullMatch(expr: string, pattern: string): string {
    return `REGEXP_CONTAINS(${expr}, ${quoteString(`^(?:${pattern})$`)})`;
  }

  cardNumbersIn(expr: string): string {
    return `(SELECT COUNT(*) FROM UNNEST(REGEXP_EXTRACT_ALL(${expr}, ${quoteString('\\b[0-9]{13,19}\\b')})) AS pan WHERE ${panLike('pan')} AND ${luhnValid('pan')})`;
  }

  readNdjson(_file: string, _columns: ColumnInfo[]): string {
    throw new FinmeshError('CONFIG_INVALID', 'BigQuery reads files by load jobs, not in a query (NDJSON)');
  }

  readParquet(_files: string[]): string {
    throw new FinmeshError('CONFIG_INVALID', 'BigQuery reads files by load jobs, not in a query (Parquet)');
  }

  unionAllByName(a: string, b: string): string {
    // GoogleSQL's UNION matches columns by position; BY NAME needs a column list the caller does not give.
    throw new FinmeshError('CONFIG_INVALID', `GoogleSQL has no UNION ALL BY NAME (${a}, ${b})`);
  }

  latestPerKey(from: string, keys: string[], orderBy: string | undefined): string {
    const order = orderBy ? `${quoteIdent(orderBy)} DESC` : '1';
    return `SELECT * FROM ${from} WHERE TRUE QUALIFY ROW_NUMBER() OVER (PARTITION BY ${keys.map(quoteIdent).join(', ')} ORDER BY ${order}) = 1`;
  }

  mask(expr: string, type: string, rule: MaskRule): string {
    const t = type.trim().toUpperCase();
    const text = /^(VARCHAR|TEXT|STRING|UUID|JSON)$/.test(t);
    const temporal = /^(DATE|TIMESTAMP|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE)$/.test(t);
    const scalar = !/^STRUCT|\[\]$/.test(t);
    const asText = `CAST(${expr} AS STRING)`;
    const nullOf = this.cast('NULL', type);
    const whenSet = (v: string) => `IF(${expr} IS NULL, NULL, ${v})`;
    switch (rule) {
      case 'last-four':
        return text ? whenSet(`CONCAT(REPEAT('X', GREATEST(LENGTH(${asText}) - 4, 0)), RIGHT(${asText}, 4))`) : nullOf;
      case 'hash':
        return whenSet(`TO_HEX(SHA256(${asText}))`);
      case 'email':
        return text ? whenSet(`CONCAT('XXXXX', COALESCE(REGEXP_EXTRACT(${asText}, r'@.*$'), ''))`) : nullOf;
      case 'year':
        return temporal ? this.cast(t === 'DATE' ? `DATE_TRUNC(${expr}, YEAR)` : `TIMESTAMP_TRUNC(${expr}, YEAR)`, type) : nullOf;
      case 'default': {
        if (!scalar) return nullOf;
        return this.cast(maskDefaultLiteral(t, { text, temporal }, 'FALSE'), type);
      }
      case 'null':
        return nullOf;
    }
  }

  tokenize(_expr: string): string {
    // The key would have to travel in the SQL text; model SQL gets it through the translator, which is told the key.
    throw new FinmeshError('CONFIG_INVALID', 'tokenize() in BigQuery is written by the model translator, which holds the key');
  }
}

/** A card network's prefix and length (the DuckDB macro `pan_like`). */
function panLike(s: string): string {
  const full = (p: string) => `REGEXP_CONTAINS(${s}, r'^(?:${p})$')`;
  return `((LENGTH(${s}) = 13 AND ${full('4[0-9]*')}) OR (LENGTH(${s}) = 14 AND ${full('3(0[0-5]|[68])[0-9]*')}) OR (LENGTH(${s}) = 15 AND ${full('3[47][0-9]*')}) OR (LENGTH(${s}) = 16 AND ${full('(4|5[1-5]|2[2-7]|6|35)[0-9]*')}) OR (LENGTH(${s}) BETWEEN 17 AND 19 AND ${full('(4|6|35)[0-9]*')}))`;
}

/** The Luhn checksum of a digit string (the DuckDB macro `luhn_valid`): every second digit from the right doubled. */
function luhnValid(s: string): string {
  const digit = `CAST(SUBSTR(${s}, LENGTH(${s}) - i, 1) AS INT64)`;
  return `MOD((SELECT SUM(IF(MOD(i, 2) = 1, IF(${digit} * 2 > 9, ${digit} * 2 - 9, ${digit} * 2), ${digit})) FROM UNNEST(GENERATE_ARRAY(0, LENGTH(${s}) - 1)) AS i), 10) = 0`;
}

export const googleSqlDialect = new GoogleSqlDialect();
