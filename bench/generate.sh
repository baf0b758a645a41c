#!/usr/bin/env bash
# bench/generate.sh SCALE_MB CONNINFO
#
# Builds the pgcrane benchmark database, about SCALE_MB megabytes, in an
# existing empty database.  Everything is generated on the server with
# generate_series and setseed, so two runs with the same SCALE_MB give the
# same rows, and no row travels over the client connection.
#
# Contents (share of SCALE_MB at 1000 MB; below 300 MB the fixed part,
# small tables and catalogs, weighs more):
#   pgbench_*          ~12%  pgbench -i -s N --foreign-keys (server-side
#                            generation), four tables with foreign keys
#   wide_docs          ~68%  text and bytea values of 1 to 10 kB, stored
#                            out of line in TOAST; most are incompressible,
#                            one column compresses well
#   orders             ~10%  identity key, six secondary indexes (btree,
#                            expression, partial, GIN on jsonb, GIN on an
#                            array), foreign key to pgbench_accounts
#   measurements        ~6%  range-partitioned by quarter: four partitions
#                            and a default partition, index on every one
#   small_001..200      ~2%  200 small tables with 50 rows each
#   invoice_number_seq, ticket_seq: standalone sequences that were advanced
#
# The script ends with VACUUM (FREEZE, ANALYZE) and CHECKPOINT so that
# every tool copying it afterwards reads the same settled pages (no hint
# bits left to set by whoever reads first).
set -euo pipefail

if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 50 ]; then
	echo "usage: $0 SCALE_MB CONNINFO   (SCALE_MB >= 50)" >&2
	exit 2
fi
scale_mb=$1
conninfo=$2
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
export PATH="$pg_bindir:$PATH"

psql_c() { psql -X -q -v ON_ERROR_STOP=1 -d "$conninfo" "$@"; }

# Refuse a database that already has tables: this builds, it never mixes.
existing=$(psql_c -At -c "SELECT count(*) FROM pg_class c
	JOIN pg_namespace n ON n.oid = c.relnamespace
	WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema')
	  AND n.nspname NOT LIKE 'pg_toast%'")
if [ "$existing" -ne 0 ]; then
	echo "$0: the database already has $existing tables; give an empty one" >&2
	exit 2
fi

mb=1048576
# The 200 small tables and an empty database take about 24 MB whatever
# the scale; the rest is shared out: 70% wide_docs, 13% pgbench, 10%
# orders, 7% measurements.
var_mb=$(( scale_mb - 24 ))
# pgbench: one scale unit is about 15 MB (100,000 accounts with index).
pgbench_scale=$(( (var_mb * 13 / 100 + 7) / 15 ))
[ "$pgbench_scale" -ge 1 ] || pgbench_scale=1
# wide_docs: a row takes about 10.4 kB (two TOASTed values of 6 kB and
# 3 kB on average, one compressed value, TOAST chunk overhead).
wide_rows=$(( var_mb * mb * 70 / 100 / 10440 ))
# orders: about 400 bytes a row, heap and seven indexes together.
order_rows=$(( var_mb * mb * 10 / 100 / 400 ))
# measurements: about 130 bytes a row, heap and two indexes.
measurement_rows=$(( var_mb * mb * 7 / 100 / 130 ))

start=$(date +%s)
echo "generate: ${scale_mb} MB: pgbench scale $pgbench_scale, wide_docs $wide_rows rows," \
	"orders $order_rows rows, measurements $measurement_rows rows, 200 small tables"

pgbench -q -i -I dtGvpf --foreign-keys -s "$pgbench_scale" "$conninfo" 2>&1 |
	grep -v -e '^dropping' -e '^creating' -e '^generating' -e '^vacuuming' \
		-e '^done' -e '^NOTICE' -e '^$' >&2 || true

psql_c -v wide_rows="$wide_rows" -v order_rows="$order_rows" \
	-v measurement_rows="$measurement_rows" <<'SQL'
SELECT setseed(0.4242) \g /dev/null

-- 1 MB of random bytes from md5, the source of incompressible values:
-- every row takes a different slice, and a slice never repeats itself,
-- so pglz finds nothing to compress and the values go out of line.
CREATE TEMP TABLE entropy AS
SELECT string_agg(decode(md5('pgcrane-bench-' || i), 'hex'), ''::bytea ORDER BY i) AS b
FROM generate_series(1, 65536) AS i;

------------------------------------------------------------------------
-- wide_docs: TOASTed text and bytea
------------------------------------------------------------------------
CREATE TABLE wide_docs (
	id          bigint PRIMARY KEY,
	title       text NOT NULL,
	body        text NOT NULL,        -- 2 to 10 kB of hex, out of line
	summary     text,                 -- repetitive, compressed by pglz
	attachment  bytea,                -- 1 to 5 kB of random bytes
	created_at  timestamptz NOT NULL,
	revision    integer NOT NULL DEFAULT 1
);
COMMENT ON TABLE wide_docs IS 'documents with large text and binary values';

INSERT INTO wide_docs (id, title, body, summary, attachment, created_at, revision)
SELECT i,
       'document ' || i || ' ' || substr(md5(i::text), 1, 12),
       encode(substring(e.b FROM (1 + (i * 7919) % 1000000)::int FOR (1000 + (i * 104729) % 4000)::int), 'hex'),
       CASE WHEN i % 5 <> 0 THEN
           repeat('status ok; checked by batch ' || (i % 97) || '; ', (20 + i % 60)::int)
       END,
       CASE WHEN i % 10 <> 0 THEN
           substring(e.b FROM (1 + (i * 3571) % 1000000)::int FOR (1000 + (i * 15485863) % 4000)::int)
       END,
       timestamptz '2023-01-01 00:00:00+00' + (i * interval '37 seconds'),
       1 + (random() * 9)::int
FROM generate_series(1::bigint, :wide_rows) AS i, entropy AS e;

------------------------------------------------------------------------
-- orders: many secondary indexes, GIN on jsonb
------------------------------------------------------------------------
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'failed', 'refunded');

CREATE TABLE orders (
	id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
	account_id  integer NOT NULL REFERENCES pgbench_accounts (aid),
	status      order_status NOT NULL,
	amount      numeric(12,2) NOT NULL,
	email       text NOT NULL,
	tags        text[] NOT NULL,
	attrs       jsonb NOT NULL,
	created_at  timestamptz NOT NULL
);

INSERT INTO orders (account_id, status, amount, email, tags, attrs, created_at)
SELECT 1 + (random() * (n.accounts - 1))::int,
       (ARRAY['new','paid','paid','paid','shipped','shipped','failed','refunded'])
           [1 + (i % 8)]::order_status,
       round((random() * 5000)::numeric, 2),
       'Customer.' || (i % 50000) || '@Example' || (i % 13) || '.com',
       ARRAY['t' || (i % 17), 't' || (i % 101), 'c' || (i % 7)],
       jsonb_build_object(
           'channel', (ARRAY['web','app','phone','store'])[1 + i % 4],
           'items', 1 + i % 9,
           'coupon', CASE WHEN i % 11 = 0 THEN 'SAVE' || (i % 30) END,
           'device', jsonb_build_object('os', (ARRAY['ios','android','linux','windows'])[1 + i % 4],
                                        'v', i % 23)),
       timestamptz '2022-01-01 00:00:00+00' + (i * interval '11 seconds')
FROM generate_series(1, :order_rows) AS i,
     (SELECT count(*) AS accounts FROM pgbench_accounts) AS n;

CREATE INDEX orders_account_idx      ON orders (account_id);
CREATE INDEX orders_status_time_idx  ON orders (status, created_at);
CREATE INDEX orders_email_lower_idx  ON orders (lower(email));
CREATE INDEX orders_failed_amount_idx ON orders (amount) WHERE status = 'failed';
CREATE INDEX orders_attrs_gin        ON orders USING gin (attrs jsonb_path_ops);
CREATE INDEX orders_tags_gin         ON orders USING gin (tags);

------------------------------------------------------------------------
-- measurements: range-partitioned
------------------------------------------------------------------------
CREATE TABLE measurements (
	sensor_id  integer NOT NULL,
	ts         timestamptz NOT NULL,
	value      double precision NOT NULL,
	quality    smallint NOT NULL,
	PRIMARY KEY (sensor_id, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE measurements_2023q1 PARTITION OF measurements
	FOR VALUES FROM ('2023-01-01 00:00+00') TO ('2023-04-01 00:00+00');
CREATE TABLE measurements_2023q2 PARTITION OF measurements
	FOR VALUES FROM ('2023-04-01 00:00+00') TO ('2023-07-01 00:00+00');
CREATE TABLE measurements_2023q3 PARTITION OF measurements
	FOR VALUES FROM ('2023-07-01 00:00+00') TO ('2023-10-01 00:00+00');
CREATE TABLE measurements_2023q4 PARTITION OF measurements
	FOR VALUES FROM ('2023-10-01 00:00+00') TO ('2024-01-01 00:00+00');
CREATE TABLE measurements_default PARTITION OF measurements DEFAULT;
CREATE INDEX measurements_ts_idx ON measurements (ts);

-- 1000 sensors; the readings of one year plus ten days in the default partition.
INSERT INTO measurements (sensor_id, ts, value, quality)
SELECT 1 + i % 1000,
       timestamptz '2023-01-01 00:00+00'
           + (i / 1000) * (interval '375 days' / greatest(:measurement_rows / 1000, 1))
           + (i % 1000) * interval '1 millisecond',
       round((random() * 100)::numeric, 3)::double precision,
       (random() * 3)::int
FROM generate_series(0, :measurement_rows - 1) AS i;

------------------------------------------------------------------------
-- 200 small tables
------------------------------------------------------------------------
DO $$
BEGIN
	FOR t IN 1..200 LOOP
		EXECUTE format(
			'CREATE TABLE %I (id integer PRIMARY KEY, code text NOT NULL UNIQUE,'
			' label text, weight numeric(8,3), updated_at timestamptz NOT NULL)',
			'small_' || lpad(t::text, 3, '0'));
		EXECUTE format(
			'INSERT INTO %I SELECT i, %L || i, repeat(%L, 1 + i %% 4), i * 1.5,'
			' timestamptz ''2024-01-01 00:00+00'' + i * interval ''1 hour'''
			' FROM generate_series(1, 50) AS i',
			'small_' || lpad(t::text, 3, '0'), 'code-' || t || '-', 'label ' || t || ' ');
	END LOOP;
END
$$;

------------------------------------------------------------------------
-- sequences
------------------------------------------------------------------------
CREATE SEQUENCE invoice_number_seq START 100000;
SELECT setval('invoice_number_seq', 100000 + :order_rows / 3) \g /dev/null
CREATE SEQUENCE ticket_seq START 1000 INCREMENT 10 CACHE 1;
SELECT nextval('ticket_seq') FROM generate_series(1, 42) \g /dev/null

DROP TABLE entropy;
SQL

psql_c -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT"

psql_c -At -F ' ' <<'SQL' | awk -v secs=$(( $(date +%s) - start )) '
	$1 == "total" { total = $2; next }
	{ printf "  %-22s %8.1f MB\n", $1, $2 }
	END { printf "generate: database %.1f MB in %d s\n", total, secs }'
SELECT CASE WHEN c.relname LIKE 'pgbench%' THEN 'pgbench_*'
            WHEN c.relname LIKE 'small\_%' THEN 'small_001..200'
            WHEN c.relname LIKE 'measurements%' THEN 'measurements'
            ELSE c.relname END AS grp,
       round(sum(pg_total_relation_size(c.oid)) / 1048576.0, 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public'
GROUP BY 1 ORDER BY 2 DESC;
SELECT 'total', round(pg_database_size(current_database()) / 1048576.0, 1);
SQL
