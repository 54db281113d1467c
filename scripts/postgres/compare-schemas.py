#!/usr/bin/env python3
"""Checks that migrations/postgres/ builds the same schema as migrations/ (SQLite).

    scripts/with-postgres.sh python3 scripts/postgres/compare-schemas.py

Applies every SQLite migration, in file-name order, to an in-memory SQLite database (a file
whose first line is `-- gatehouse: foreign_keys=off` with foreign keys off, as the runner in
src/db/migrate.rs does), and every PostgreSQL migration, each in one transaction, to a scratch
database created next to the one named by GATEHOUSE_TEST_POSTGRES_URL (and dropped at the
end). Then compares:

- that each PostgreSQL migration has a SQLite twin of the same name, and the other way round;
- the tables;
- per table, the columns in order: name, type (INTEGER -> bigint, TEXT -> text,
  BLOB -> bytea, REAL -> double precision), NOT NULL, primary-key position, default;
- that the PostgreSQL identity columns are exactly the SQLite INTEGER PRIMARY KEYs the
  application leaves to the database (all of them but EXPLICIT_INTEGER_KEYS);
- the indexes made with CREATE INDEX, by name: unique or not, columns, WHERE clause;
- the unique constraints (SQLite's sqlite_autoindex_*): by table and columns;
- the foreign keys: columns, target table and columns, ON DELETE;
- the number of CHECK constraints per table, and the triggers by name.

Prints every difference and exits 1 if there is any; otherwise prints
"schemas match: N tables, M columns, K indexes". Also runs scripts/postgres/app-writes.sql on
the migrated PostgreSQL database (writes as the application makes them) and fails if it fails.

Python standard library only; psql is $PGBIN/psql, else the one on PATH.
"""

import json
import os
import re
import secrets
import sqlite3
import subprocess
import sys
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SQLITE_DIR = ROOT / "migrations"
POSTGRES_DIR = ROOT / "migrations" / "postgres"
APP_WRITES = Path(__file__).resolve().parent / "app-writes.sql"
FOREIGN_KEYS_OFF = "-- gatehouse: foreign_keys=off"

TYPES = {"INTEGER": "bigint", "TEXT": "text", "BLOB": "bytea", "REAL": "double precision"}

# INTEGER PRIMARY KEY columns that the application always fills in itself: plain BIGINT
# PRIMARY KEY on PostgreSQL. Every other single-column INTEGER PRIMARY KEY is left to SQLite's
# rowid numbering and must be an identity column on PostgreSQL.
EXPLICIT_INTEGER_KEYS = {("readiness_probe", "id"), ("pii_keys", "id")}

# The table of applied migrations is made by the runner, not by a migration: its SQLite DDL is
# read from src/db/migrate.rs, its PostgreSQL DDL from the first ```sql block of the
# "## schema_migrations" section of migrations/postgres/README.md.
MIGRATE_RS = ROOT / "src" / "db" / "migrate.rs"
POSTGRES_README = POSTGRES_DIR / "README.md"
IGNORED_TABLES = set()

ON_DELETE = {"a": "NO ACTION", "r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}


def fail(message):
    print(f"compare-schemas: {message}", file=sys.stderr)
    sys.exit(2)


def migration_files(folder):
    return sorted(p for p in folder.glob("*.sql") if re.match(r"^\d{4}_.+\.sql$", p.name))


def normalise_sql(text):
    """An expression as both engines may print it, reduced to compare: no casts, no
    parentheses, one space, lower case."""
    if text is None:
        return None
    text = re.sub(r"::[a-z_ ]+?(?=[\s,)]|$)", "", text.strip(), flags=re.I)
    text = text.replace("(", " ").replace(")", " ")
    return re.sub(r"\s+", " ", text).strip().lower()


def strip_comments(sql):
    """SQL without -- comments (string literals kept)."""
    out, i, n = [], 0, len(sql)
    while i < n:
        c = sql[i]
        if c == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'" and not (j + 1 < n and sql[j + 1] == "'"):
                    break
                j += 2 if sql[j] == "'" else 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif sql.startswith("--", i):
            while i < n and sql[i] != "\n":
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def index_where(sql):
    """The WHERE clause of a CREATE INDEX statement, or None."""
    if not sql:
        return None
    m = re.search(r"\)\s*WHERE\s+(.*)$", strip_comments(sql), flags=re.I | re.S)
    return m.group(1).strip().rstrip(";") if m else None


# --- SQLite ------------------------------------------------------------------------------------


def runner_ddl():
    """(SQLite DDL, PostgreSQL DDL) of schema_migrations, each None when not found."""
    lite = pg = None
    if MIGRATE_RS.exists():
        m = re.search(
            r"CREATE TABLE IF NOT EXISTS schema_migrations\s*\(.*?\)\s*STRICT;",
            MIGRATE_RS.read_text(),
            flags=re.S,
        )
        lite = m.group(0) if m else None
    if POSTGRES_README.exists():
        text = POSTGRES_README.read_text()
        section = text.split("## schema_migrations", 1)
        if len(section) == 2:
            m = re.search(r"```sql\n(.*?)```", section[1], flags=re.S)
            pg = m.group(1) if m else None
    return lite, pg


def sqlite_schema(files, runner_sql=None):
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    if runner_sql:
        conn.executescript(runner_sql)
    for path in files:
        sql = path.read_text()
        rebuild = sql.startswith(FOREIGN_KEYS_OFF)
        if rebuild:
            conn.execute("PRAGMA foreign_keys = OFF")
        try:
            conn.executescript("BEGIN;\n" + sql + "\nCOMMIT;")
        except sqlite3.Error as e:
            fail(f"SQLite migration {path.name} failed: {e}")
        if rebuild:
            conn.execute("PRAGMA foreign_keys = ON")

    schema = {"tables": {}, "indexes": {}, "uniques": set(), "triggers": set()}
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for table in tables:
        if table in IGNORED_TABLES:
            continue
        table_sql = conn.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()[0]
        columns = []
        integer_key = None
        info = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
        pk_columns = [r for r in info if r[5] > 0]
        for cid, name, decl, notnull, default, pk in info:
            columns.append(
                {
                    "name": name,
                    "type": TYPES.get(decl.upper(), f"unmapped {decl}"),
                    # A primary-key column is NOT NULL on PostgreSQL, and in a STRICT table
                    # (except the rowid alias, which can never hold NULL either).
                    "notnull": bool(notnull) or pk > 0,
                    "pk": pk,
                    "default": normalise_sql(default),
                }
            )
            if pk > 0 and len(pk_columns) == 1 and decl.upper() == "INTEGER":
                integer_key = name
        checks = len(re.findall(r"\bCHECK\s*\(", strip_comments(table_sql), flags=re.I))
        foreign_keys = {}
        for fid, seq, target, frm, to, _on_update, on_delete, _match in conn.execute(
            f'PRAGMA foreign_key_list("{table}")'
        ):
            fk = foreign_keys.setdefault(fid, {"from": [], "to": [], "table": target, "on_delete": on_delete})
            fk["from"].append(frm)
            fk["to"].append(to)
        schema["tables"][table] = {
            "columns": columns,
            "integer_key": integer_key,
            "checks": checks,
            "foreign_keys": sorted(
                (tuple(f["from"]), f["table"], tuple(f["to"]), f["on_delete"].upper())
                for f in foreign_keys.values()
            ),
        }
        for _seq, name, unique, origin, _partial in conn.execute(f'PRAGMA index_list("{table}")'):
            cols = tuple(r[2] for r in conn.execute(f'PRAGMA index_info("{name}")'))
            if origin == "c":
                sql = conn.execute(
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
                ).fetchone()[0]
                schema["indexes"][name] = {
                    "table": table,
                    "unique": bool(unique),
                    "columns": cols,
                    "where": normalise_sql(index_where(sql)),
                }
            elif origin == "u":
                schema["uniques"].add((table, cols))
            # origin "pk": compared as the columns' primary-key positions.
    for name, table in conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"):
        schema["triggers"].add((table, name))
    return schema


# --- PostgreSQL --------------------------------------------------------------------------------


def psql_binary():
    pgbin = os.environ.get("PGBIN")
    if pgbin and (Path(pgbin) / "psql").exists():
        return str(Path(pgbin) / "psql")
    return "psql"


PSQL = psql_binary()


def psql(url, *args, input_text=None):
    result = subprocess.run(
        [PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, *args],
        input=input_text,
        capture_output=True,
        text=True,
    )
    return result.returncode, result.stdout, result.stderr


def psql_json(url, query):
    code, out, err = psql(url, "-A", "-t", "-c", query)
    if code != 0:
        fail(f"psql query failed: {err.strip()}")
    return json.loads(out.strip() or "null")


PG_TABLES = """
SELECT coalesce(json_agg(c.relname), '[]') FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""

PG_COLUMNS = """
SELECT coalesce(json_agg(json_build_object(
    'table', c.relname, 'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
    'notnull', a.attnotnull, 'identity', a.attidentity,
    'default', pg_get_expr(d.adbin, d.adrelid),
    'pk', coalesce(array_position(p.conkey, a.attnum), 0)
) ORDER BY c.relname, a.attnum), '[]')
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
LEFT JOIN pg_constraint p ON p.conrelid = c.oid AND p.contype = 'p'
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND a.attnum > 0 AND NOT a.attisdropped
"""

PG_INDEXES = """
SELECT coalesce(json_agg(json_build_object(
    'table', t.relname, 'name', i.relname, 'unique', x.indisunique,
    'primary', x.indisprimary,
    'constraint', con.contype,
    'columns', (SELECT json_agg(a.attname ORDER BY k.ord)
                FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum),
    'expressions', x.indexprs IS NOT NULL,
    'where', pg_get_expr(x.indpred, x.indrelid)
)), '[]')
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = t.oid
    AND con.contype IN ('p', 'u')
WHERE n.nspname = 'public'
"""

PG_CONSTRAINTS = """
SELECT coalesce(json_agg(json_build_object(
    'table', t.relname, 'name', con.conname, 'type', con.contype,
    'from', (SELECT json_agg(a.attname ORDER BY k.ord)
             FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum),
    'target', f.relname,
    'to', (SELECT json_agg(a.attname ORDER BY k.ord)
           FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum),
    'on_delete', con.confdeltype
)), '[]')
FROM pg_constraint con
JOIN pg_class t ON t.oid = con.conrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_class f ON f.oid = con.confrelid
WHERE n.nspname = 'public' AND con.contype IN ('f', 'c')
"""

PG_TRIGGERS = """
SELECT coalesce(json_agg(json_build_array(c.relname, tg.tgname)), '[]')
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT tg.tgisinternal
"""


def postgres_schema(url, files, runner_sql=None):
    if runner_sql:
        code, _out, err = psql(url, "-c", runner_sql)
        if code != 0:
            fail(f"the schema_migrations DDL of {POSTGRES_README.name} failed:\n{err.strip()}")
    for path in files:
        code, _out, err = psql(url, "--single-transaction", "-f", str(path))
        if code != 0:
            fail(f"PostgreSQL migration {path.name} failed:\n{err.strip()}")

    schema = {"tables": {}, "indexes": {}, "uniques": set(), "triggers": set()}
    for table in psql_json(url, PG_TABLES):
        if table not in IGNORED_TABLES:
            schema["tables"][table] = {"columns": [], "identity": [], "checks": 0, "foreign_keys": []}
    for col in psql_json(url, PG_COLUMNS):
        table = schema["tables"].get(col["table"])
        if table is None:
            continue
        table["columns"].append(
            {
                "name": col["name"],
                "type": col["type"],
                "notnull": col["notnull"],
                "pk": col["pk"],
                "default": normalise_sql(col["default"]),
            }
        )
        if col["identity"]:
            table["identity"].append((col["name"], col["identity"]))
    for con in psql_json(url, PG_CONSTRAINTS):
        table = schema["tables"].get(con["table"])
        if table is None:
            continue
        if con["type"] == "c":
            table["checks"] += 1
        else:
            table["foreign_keys"].append(
                (tuple(con["from"]), con["target"], tuple(con["to"]), ON_DELETE[con["on_delete"]])
            )
    for table in schema["tables"].values():
        table["foreign_keys"].sort()
    for ix in psql_json(url, PG_INDEXES):
        if ix["table"] in IGNORED_TABLES:
            continue
        cols = tuple(ix["columns"] or ())
        if ix["constraint"] == "p":
            continue  # compared as the columns' primary-key positions
        if ix["constraint"] == "u":
            schema["uniques"].add((ix["table"], cols))
            continue
        schema["indexes"][ix["name"]] = {
            "table": ix["table"],
            "unique": ix["unique"],
            "columns": cols if not ix["expressions"] else ("<expression>",),
            "where": normalise_sql(ix["where"]),
        }
    for table, name in psql_json(url, PG_TRIGGERS):
        schema["triggers"].add((table, name))
    return schema


# --- comparison --------------------------------------------------------------------------------


def compare(lite, pg):
    diffs = []
    lite_tables, pg_tables = set(lite["tables"]), set(pg["tables"])
    for t in sorted(lite_tables - pg_tables):
        diffs.append(f"table {t}: only in SQLite")
    for t in sorted(pg_tables - lite_tables):
        diffs.append(f"table {t}: only in PostgreSQL")

    for t in sorted(lite_tables & pg_tables):
        lt, pt = lite["tables"][t], pg["tables"][t]
        lcols = {c["name"]: c for c in lt["columns"]}
        pcols = {c["name"]: c for c in pt["columns"]}
        for name in [c["name"] for c in lt["columns"] if c["name"] not in pcols]:
            diffs.append(f"column {t}.{name}: only in SQLite")
        for name in [c["name"] for c in pt["columns"] if c["name"] not in lcols]:
            diffs.append(f"column {t}.{name}: only in PostgreSQL")
        for name in [c["name"] for c in lt["columns"] if c["name"] in pcols]:
            lc, pc = lcols[name], pcols[name]
            for key in ("type", "notnull", "pk", "default"):
                if lc[key] != pc[key]:
                    diffs.append(
                        f"column {t}.{name}: {key} is {lc[key]!r} in SQLite, {pc[key]!r} in PostgreSQL"
                    )
        lorder = [c["name"] for c in lt["columns"] if c["name"] in pcols]
        porder = [c["name"] for c in pt["columns"] if c["name"] in lcols]
        if lorder != porder:
            diffs.append(f"table {t}: column order differs: SQLite {lorder}, PostgreSQL {porder}")

        identity = dict(pt["identity"])
        key = lt["integer_key"]
        for col, kind in identity.items():
            if kind != "d":
                diffs.append(
                    f"column {t}.{col}: identity must be GENERATED BY DEFAULT (explicit ids are inserted by copies and tests)"
                )
            if col != key:
                diffs.append(f"column {t}.{col}: identity column, but not an INTEGER PRIMARY KEY in SQLite")
        if key and (t, key) not in EXPLICIT_INTEGER_KEYS and key not in identity:
            diffs.append(
                f"column {t}.{key}: an INTEGER PRIMARY KEY numbered by SQLite must be "
                "BIGINT GENERATED BY DEFAULT AS IDENTITY on PostgreSQL (or, if the application "
                "always gives it, be listed in EXPLICIT_INTEGER_KEYS)"
            )
        if (t, key) in EXPLICIT_INTEGER_KEYS and key in identity:
            diffs.append(f"column {t}.{key}: listed as always given by the application, yet an identity")

        if lt["checks"] != pt["checks"]:
            diffs.append(f"table {t}: {lt['checks']} CHECK constraints in SQLite, {pt['checks']} in PostgreSQL")
        for fk in sorted(set(lt["foreign_keys"]) - set(pt["foreign_keys"])):
            diffs.append(f"table {t}: foreign key {fk} only in SQLite")
        for fk in sorted(set(pt["foreign_keys"]) - set(lt["foreign_keys"])):
            diffs.append(f"table {t}: foreign key {fk} only in PostgreSQL")

    for name in sorted(set(lite["indexes"]) - set(pg["indexes"])):
        diffs.append(f"index {name}: only in SQLite")
    for name in sorted(set(pg["indexes"]) - set(lite["indexes"])):
        diffs.append(f"index {name}: only in PostgreSQL")
    for name in sorted(set(lite["indexes"]) & set(pg["indexes"])):
        li, pi = lite["indexes"][name], pg["indexes"][name]
        for key in ("table", "unique", "columns", "where"):
            if li[key] != pi[key]:
                diffs.append(f"index {name}: {key} is {li[key]!r} in SQLite, {pi[key]!r} in PostgreSQL")

    for u in sorted(lite["uniques"] - pg["uniques"]):
        diffs.append(f"unique constraint {u[0]}{u[1]}: only in SQLite")
    for u in sorted(pg["uniques"] - lite["uniques"]):
        diffs.append(f"unique constraint {u[0]}{u[1]}: only in PostgreSQL")
    for tr in sorted(lite["triggers"] - pg["triggers"]):
        diffs.append(f"trigger {tr[1]} on {tr[0]}: only in SQLite")
    for tr in sorted(pg["triggers"] - lite["triggers"]):
        diffs.append(f"trigger {tr[1]} on {tr[0]}: only in PostgreSQL")
    return diffs


def with_database(url, dbname):
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


def main():
    diffs = []
    lite_files = migration_files(SQLITE_DIR)
    pg_files = migration_files(POSTGRES_DIR)
    lite_names = {p.name for p in lite_files}
    pg_names = {p.name for p in pg_files}
    for name in sorted(lite_names - pg_names):
        diffs.append(f"migration {name}: no PostgreSQL twin in migrations/postgres/")
    for name in sorted(pg_names - lite_names):
        diffs.append(f"migration postgres/{name}: no SQLite twin in migrations/")
    stray = sorted(
        p.name for p in POSTGRES_DIR.glob("*.sql") if p.name not in pg_names
    )
    for name in stray:
        diffs.append(f"migration postgres/{name}: not named NNNN_name.sql")

    url = os.environ.get("GATEHOUSE_TEST_POSTGRES_URL")
    if not url:
        fail("GATEHOUSE_TEST_POSTGRES_URL is not set: run it under scripts/with-postgres.sh")

    lite_runner, pg_runner = runner_ddl()
    if not lite_runner or not pg_runner:
        where = "src/db/migrate.rs" if not lite_runner else "migrations/postgres/README.md"
        print(f"note: schema_migrations not compared (its DDL was not found in {where})", file=sys.stderr)
        IGNORED_TABLES.add("schema_migrations")
        lite_runner = pg_runner = None
    lite = sqlite_schema(lite_files, lite_runner)

    scratch = f"gatehouse_schema_check_{os.getpid()}_{secrets.token_hex(4)}"
    code, _out, err = psql(url, "-c", f'CREATE DATABASE "{scratch}"')
    if code != 0:
        fail(f"could not create the scratch database: {err.strip()}")
    try:
        scratch_url = with_database(url, scratch)
        pg = postgres_schema(scratch_url, pg_files, pg_runner)
        diffs += compare(lite, pg)
        if APP_WRITES.exists():
            code, out, err = psql(scratch_url, "-f", str(APP_WRITES))
            if code != 0:
                diffs.append(f"{APP_WRITES.name} failed on PostgreSQL:\n{(out + err).strip()}")
    finally:
        psql(url, "-c", f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')

    if diffs:
        for d in diffs:
            print(d)
        print(f"{len(diffs)} difference(s)", file=sys.stderr)
        sys.exit(1)
    n_tables = len(lite["tables"])
    n_columns = sum(len(t["columns"]) for t in lite["tables"].values())
    n_indexes = len(lite["indexes"]) + len(lite["uniques"])
    print(f"schemas match: {n_tables} tables, {n_columns} columns, {n_indexes} indexes")


if __name__ == "__main__":
    main()
