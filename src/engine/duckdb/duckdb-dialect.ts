import { type ColumnInfo, type MaskRule, maskDefaultLiteral, type SqlDialect } from '../engine.js';

/** DuckDB's SQL. */
export class DuckDbDialect implements SqlDialect {
  readonly name = 'duckdb';

  quoteIdent(name: string): string {
    return `"${name.replace(/"/g, '""')}"`;
  }

  quoteLiteral(value: string): string {
    return `'${value.replace(/'/g, "''")}'`;
  }

  cast(expr: string, type: string): string {
    return `CAST(${expr} AS ${type})`;
  }

  currentTimestamp(): string {
    return 'now()';
  }

  currentDate(): string {
    return 'current_date';
  }

  daysAgo(days: number): string {
    return `(current_date - INTERVAL ${Math.trunc(days)} DAY)`;
  }

  countIf(condition: string): string {
    return `count(*) FILTER (WHERE ${condition})`;
  }

  regexpFullMatch(expr: string, pattern: string): string {
    return `regexp_full_match(${expr}, ${this.quoteLiteral(pattern)})`;
  }

  cardNumbersIn(expr: string): string {
    // A value shorter than 13 bytes holds no 13-digit run: most text values (codes, statuses) skip the regex.
    return `CASE WHEN strlen(${expr}) >= 13 THEN len(list_filter(regexp_extract_all(${expr}, '\\b[0-9]{13,19}\\b'), x -> pan_like(x) AND luhn_valid(x))) ELSE 0 END`;
  }

  hash(expr: string): string {
    return `hash(${expr})`;
  }

  readNdjson(file: string, columns: ColumnInfo[]): string {
    const cols = columns.map((c) => `${this.quoteIdent(c.name)}: ${this.quoteLiteral(c.type)}`).join(', ');
    return `read_json(${this.quoteLiteral(file)}, format = 'newline_delimited', columns = {${cols}})`;
  }

  readParquet(files: string[], options: { partitionColumns?: boolean; unionByName?: boolean } = {}): string {
    const hive = options.partitionColumns ?? true;
    // By name unless the caller knows every file has the same columns (binding by name opens every file).
    const union = (options.unionByName ?? true) ? ', union_by_name = true' : '';
    return `read_parquet([${files.map((f) => this.quoteLiteral(f)).join(', ')}], hive_partitioning = ${hive}${union})`;
  }

  unionAllByName(a: string, b: string): string {
    return `${a} UNION ALL BY NAME ${b}`;
  }

  mask(expr: string, type: string, rule: MaskRule): string {
    const t = type.trim().toUpperCase();
    const text = /^(VARCHAR|TEXT|STRING|UUID|JSON)$/.test(t);
    const temporal = /^(DATE|TIMESTAMP|TIMESTAMPTZ|TIMESTAMP WITH TIME ZONE)$/.test(t);
    const scalar = !/^STRUCT|\[\]$/.test(t);
    const asText = this.cast(expr, 'VARCHAR');
    const nullOf = this.cast('NULL', type);
    const whenSet = (v: string) => `CASE WHEN ${expr} IS NULL THEN NULL ELSE ${v} END`;
    switch (rule) {
      case 'last-four':
        return text ? whenSet(`repeat('X', greatest(length(${asText}) - 4, 0)) || right(${asText}, 4)`) : nullOf;
      case 'hash':
        return whenSet(`sha256(${asText})`);
      case 'email':
        return text ? whenSet(`'XXXXX' || coalesce(regexp_extract(${asText}, '@.*$'), '')`) : nullOf;
      case 'year':
        return temporal ? this.cast(`date_trunc('year', ${expr})`, type) : nullOf;
      case 'default': {
        if (!scalar) return nullOf;
        return this.cast(maskDefaultLiteral(t, { text, temporal }, 'false'), type);
      }
      case 'null':
        return nullOf;
    }
  }

  tokenize(expr: string): string {
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE tokenize(${this.cast(expr, 'VARCHAR')}) END`;
  }

  latestPerKey(from: string, keys: string[], orderBy: string | undefined): string {
    const order = orderBy ? `${this.quoteIdent(orderBy)} DESC` : '1';
    return `SELECT * FROM ${from} QUALIFY row_number() OVER (PARTITION BY ${keys.map((k) => this.quoteIdent(k)).join(', ')} ORDER BY ${order}) = 1`;
  }
}

export const duckDbDialect = new DuckDbDialect();
