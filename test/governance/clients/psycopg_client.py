"""Runs statements against finmesh's SQL endpoint with psycopg 3 and prints one JSON result per statement.

usage: psycopg_client.py <conninfo> <statement>...   (a statement containing %s gets the parameter 'pix')
"""
import json
import sys

import psycopg


def main() -> None:
    conninfo, statements = sys.argv[1], sys.argv[2:]
    try:
        conn = psycopg.connect(conninfo, autocommit=True)
    except psycopg.Error as e:
        print(json.dumps({"connect_error": str(e).strip()}))
        return
    with conn:
        for sql in statements:
            try:
                with conn.cursor() as cur:
                    cur.execute(sql, ("pix",) if "%s" in sql else None)
                    columns = [d.name for d in cur.description] if cur.description else []
                    rows = [[None if v is None else str(v) for v in r] for r in cur.fetchall()] if cur.description else []
                    print(json.dumps({"columns": columns, "rows": rows}))
            except psycopg.Error as e:
                print(json.dumps({"error": {"sqlstate": e.sqlstate, "message": str(e).strip()}}))


main()
