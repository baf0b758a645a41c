#!/usr/bin/env bash
# bench/generate.sh [--shape NAME] SCALE_MB CONNINFO
#
# Builds a pgcrane benchmark database, about SCALE_MB megabytes, in an
# existing empty database.  Everything is generated on the server with
# generate_series and setseed, so two runs with the same shape and
# SCALE_MB give the same rows, and no row travels over the client
# connection.  One shape is not enough to judge a clone's scheduling, so
# there are several (--shape, default mixed):
#
#   mixed        the default, described below
#   issue        the database of the critical-path issue, scaled: at 2900 MB
#                one 1.7 GB table of TOASTed text and bytea (docs, primary
#                key only), pgbench_accounts of 3.8M rows (pgbench scale 38)
#                and a 165 MB events table with a primary key and six
#                secondary indexes, one of them GIN on jsonb; shares 70%,
#                23%, 7% at any SCALE_MB
#   index-heavy  two tables whose indexes outweigh their heap: ten indexes
#                each (B-trees on one and two columns, expressions, GIN on
#                jsonb and on an array, a unique constraint)
#   many-small   2000 tables of SCALE_MB/2000 each, each with a primary key
#                and one secondary index: per-table overhead (an empty
#                table of these takes 90 kB: below 300 MB the database is
#                larger than SCALE_MB)
#   huge         one table of 95% of SCALE_MB with no key and one B-tree
#                index (nothing but a block range can split it, and its
#                one index build cannot be split at all), plus five small
#                tables
#   wide         rows of 60 columns of mixed types, about 450 bytes, kept
#                inline (no TOAST), primary key and two indexes
#   toast        95% TOASTed values (incompressible text and bytea of 2 to
#                20 kB) in two tables, primary keys only
#
# Contents of mixed (share of SCALE_MB at 1000 MB; below 300 MB the fixed
# part, small tables and catalogs, weighs more):
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

shape=mixed
case ${1:-} in
	--shape) shape=${2:-}; shift 2 || true ;;
	--shape=*) shape=${1#*=}; shift ;;
esac
case $shape in
	mixed|issue|index-heavy|many-small|huge|wide|toast) ;;
	*) echo "$0: unknown shape \"$shape\" (mixed, issue, index-heavy, many-small, huge, wide, toast)" >&2
	   exit 2 ;;
esac
if [ $# -ne 2 ] || ! [[ $1 =~ ^[0-9]+$ ]] || [ "$1" -lt 50 ]; then
	echo "usage: $0 [--shape NAME] SCALE_MB CONNINFO   (SCALE_MB >= 50)" >&2
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
start=$(date +%s)

# 1 MB of random bytes from md5, the source of incompressible values:
# every row takes a different slice, and a slice never repeats itself,
# so pglz finds nothing to compress and the values go out of line.
# Printed ahead of a shape's SQL; the shape drops it at its end.
entropy() {
	cat <<'SQL'
SELECT setseed(0.4242) \g /dev/null
CREATE TEMP TABLE entropy AS
SELECT string_agg(decode(md5('pgcrane-bench-' || i), 'hex'), ''::bytea ORDER BY i) AS b
FROM generate_series(1, 65536) AS i;
SQL
}

# The default shape (see the header).
gen_mixed() {
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

}

# pgbench tables of about share_mb megabytes (15 MB a scale unit).
gen_pgbench() { # share_mb
	local scale=$(( ($1 + 7) / 15 ))
	[ "$scale" -ge 1 ] || scale=1
	pgbench -q -i -I dtGvp -s "$scale" "$conninfo" 2>&1 |
		grep -v -e '^dropping' -e '^creating' -e '^generating' -e '^vacuuming' \
			-e '^done' -e '^NOTICE' -e '^$' >&2 || true
	echo "  pgbench scale $scale ($(( scale * 100000 )) accounts)"
}

# The issue's database: docs 70%, pgbench 23%, events 7%.
gen_issue() {
	local doc_rows=$(( scale_mb * mb * 70 / 100 / 9800 ))
	local event_rows=$(( scale_mb * mb * 7 / 100 / 420 ))
	echo "generate: ${scale_mb} MB, shape issue: docs $doc_rows rows, events $event_rows rows"
	gen_pgbench $(( scale_mb * 23 / 100 ))
	{ entropy; cat <<'SQL'; } | psql_c -v doc_rows="$doc_rows" -v event_rows="$event_rows"
CREATE TABLE docs (
	id          bigint PRIMARY KEY,
	title       text NOT NULL,
	body        text NOT NULL,        -- 2 to 10 kB of hex, out of line
	payload     bytea,                -- 1 to 5 kB of random bytes
	created_at  timestamptz NOT NULL
);
INSERT INTO docs
SELECT i, 'doc ' || i,
       encode(substring(e.b FROM (1 + (i * 7919) % 1000000)::int FOR (1000 + (i * 104729) % 4000)::int), 'hex'),
       CASE WHEN i % 10 <> 0 THEN
           substring(e.b FROM (1 + (i * 3571) % 1000000)::int FOR (1000 + (i * 15485863) % 4000)::int)
       END,
       timestamptz '2023-01-01 00:00:00+00' + (i * interval '37 seconds')
FROM generate_series(1::bigint, :doc_rows) AS i, entropy AS e;

CREATE TABLE events (
	id          bigint PRIMARY KEY,
	account_id  integer NOT NULL,
	kind        text NOT NULL,
	email       text NOT NULL,
	amount      numeric(12,2) NOT NULL,
	payload     jsonb NOT NULL,
	created_at  timestamptz NOT NULL
);
INSERT INTO events
SELECT i, (1 + (i::bigint * 7919) % 3800000)::int,
       (ARRAY['login','view','cart','order','refund','logout'])[1 + i % 6],
       'User.' || (i % 70000) || '@Example' || (i % 11) || '.org',
       round((random() * 900)::numeric, 2),
       jsonb_build_object('channel', (ARRAY['web','app','phone'])[1 + i % 3],
                          'items', 1 + i % 9, 'ref', 'r' || (i % 5000),
                          'geo', jsonb_build_object('cc', (ARRAY['de','fr','us','jp','br'])[1 + i % 5],
                                                    'zone', i % 40)),
       timestamptz '2024-01-01 00:00+00' + i * interval '3 seconds'
FROM generate_series(1, :event_rows) AS i;
CREATE INDEX events_account_idx ON events (account_id);
CREATE INDEX events_kind_time_idx ON events (kind, created_at);
CREATE INDEX events_email_lower_idx ON events (lower(email));
CREATE INDEX events_created_idx ON events (created_at);
CREATE INDEX events_amount_idx ON events (amount);
CREATE INDEX events_payload_gin ON events USING gin (payload);
DROP TABLE entropy;
SQL
}

# Two tables whose ten indexes outweigh their heap.
gen_index_heavy() {
	local rows=$(( scale_mb * mb / 2 / 560 )) t
	echo "generate: ${scale_mb} MB, shape index-heavy: ix_a and ix_b, $rows rows each, ten indexes each"
	for t in ix_a ix_b; do
		psql_c -v t="$t" -v rows="$rows" <<'SQL'
SELECT setseed(0.17) \g /dev/null
CREATE TABLE :t (
	id      bigint PRIMARY KEY,
	code    text NOT NULL UNIQUE,
	a       integer NOT NULL,
	b       integer NOT NULL,
	c       bigint NOT NULL,
	name    text NOT NULL,
	tags    text[] NOT NULL,
	attrs   jsonb NOT NULL,
	at      timestamptz NOT NULL
);
INSERT INTO :t
SELECT i, 'C' || lpad(i::text, 10, '0'), (random() * 1e6)::int, i % 1000, (random() * 1e12)::bigint,
       md5(i::text), ARRAY['x' || (i % 31), 'y' || (i % 211)],
       jsonb_build_object('k', i % 97, 's', 'v' || (i % 1013)),
       timestamptz '2024-01-01 00:00+00' + i * interval '1 second'
FROM generate_series(1, :rows) AS i;
CREATE INDEX ON :t (a);
CREATE INDEX ON :t (b, a);
CREATE INDEX ON :t (c);
CREATE INDEX ON :t (name);
CREATE INDEX ON :t (lower(name));
CREATE INDEX ON :t (at);
CREATE INDEX ON :t USING gin (tags);
CREATE INDEX ON :t USING gin (attrs);
SQL
	done
}

# 2000 small tables, created 200 to a transaction (each takes locks).
gen_many_small() {
	# About 90 kB a table whatever its rows (pages, indexes, TOAST table).
	local rows=$(( (scale_mb * mb - 2000 * 92160) / 2000 / 110 )) first
	[ "$rows" -ge 10 ] || rows=10
	echo "generate: ${scale_mb} MB, shape many-small: st_0001..st_2000, $rows rows each"
	for first in $(seq 1 200 2000); do
		psql_c -v first="$first" -v rows="$rows" <<'SQL'
SELECT set_config('bench.first', :'first', false), set_config('bench.rows', :'rows', false) \g /dev/null
DO $$
DECLARE
	f int := current_setting('bench.first')::int;
	n int := current_setting('bench.rows')::int;
	t text;
BEGIN
	FOR i IN f..f + 199 LOOP
		t := 'st_' || lpad(i::text, 4, '0');
		EXECUTE format('CREATE TABLE %I (id integer PRIMARY KEY, k integer NOT NULL,'
			' label text NOT NULL, at timestamptz NOT NULL)', t);
		EXECUTE format('INSERT INTO %I SELECT g, (g * 7919) %% 100000, %L || g,'
			' timestamptz %L + g * interval %L FROM generate_series(1, %s) AS g',
			t, 'row-' || i || '-', '2024-01-01 00:00+00', '1 minute', n);
		EXECUTE format('CREATE INDEX ON %I (k)', t);
	END LOOP;
END
$$;
SQL
	done
}

# One huge table without a key, one B-tree index; five small tables.
gen_huge() {
	local rows=$(( scale_mb * mb * 95 / 100 / 150 ))
	echo "generate: ${scale_mb} MB, shape huge: big $rows rows, no key, one index"
	psql_c -v rows="$rows" <<'SQL'
SELECT setseed(0.31) \g /dev/null
CREATE TABLE big (
	k       text NOT NULL,
	a       bigint NOT NULL,
	b       integer NOT NULL,
	note    text NOT NULL,
	at      timestamptz NOT NULL
);
INSERT INTO big
SELECT md5(i::text), (random() * 1e12)::bigint, i % 10000,
       'note ' || (i % 99991) || ' ' || repeat('z', (i % 30)::int),
       timestamptz '2020-01-01 00:00+00' + i * interval '1 second'
FROM generate_series(1, :rows) AS i;
CREATE INDEX big_a_idx ON big (a);
DO $$
BEGIN
	FOR t IN 1..5 LOOP
		EXECUTE format('CREATE TABLE %I (id integer PRIMARY KEY, v text NOT NULL)', 'side_' || t);
		EXECUTE format('INSERT INTO %I SELECT i, md5(i::text) FROM generate_series(1, 20000) AS i',
			'side_' || t);
	END LOOP;
END
$$;
SQL
}

# Rows of 60 columns, kept inline.
gen_wide() {
	local rows=$(( scale_mb * mb / 480 )) cols="" sel="" i
	for i in $(seq 1 20); do cols+=", i$i integer NOT NULL"; sel+=", (g * $i) % 1000003"; done
	for i in $(seq 1 10); do cols+=", b$i bigint"; sel+=", g * $i * 7919"; done
	for i in $(seq 1 10); do cols+=", n$i numeric(14,4)"; sel+=", round(((g % 9973) * $i)::numeric / 7, 4)"; done
	for i in $(seq 1 12); do cols+=", t$i text"; sel+=", 'v$i-' || (g % (100 * $i))"; done
	for i in $(seq 1 5); do cols+=", d$i timestamptz"; sel+=", timestamptz '2024-01-01 00:00+00' + g * interval '$i seconds'"; done
	for i in $(seq 1 2); do cols+=", f$i boolean"; sel+=", g % $((i + 1)) = 0"; done
	echo "generate: ${scale_mb} MB, shape wide: wide_rows $rows rows of 60 columns"
	psql_c -c "CREATE TABLE wide_rows (id bigint PRIMARY KEY$cols)" \
		-c "INSERT INTO wide_rows SELECT g$sel FROM generate_series(1::bigint, $rows) AS g" \
		-c "CREATE INDEX ON wide_rows (i1, i2)" -c "CREATE INDEX ON wide_rows (t1)"
}

# TOASTed values, 95%: two tables, primary keys only.
gen_toast() {
	local rows=$(( scale_mb * mb * 95 / 100 / 17000 ))
	echo "generate: ${scale_mb} MB, shape toast: blobs_a $(( rows * 6 / 10 )) rows, blobs_b $(( rows * 4 / 10 )) rows"
	{ entropy; cat <<'SQL'; } | psql_c -v rows_a=$(( rows * 6 / 10 )) -v rows_b=$(( rows * 4 / 10 ))
CREATE TABLE blobs_a (id bigint PRIMARY KEY, body text NOT NULL, data bytea);
CREATE TABLE blobs_b (id bigint PRIMARY KEY, body text NOT NULL, data bytea);
INSERT INTO blobs_a
SELECT i, encode(substring(e.b FROM (1 + (i * 7919) % 900000)::int FOR (1000 + (i * 104729) % 9000)::int), 'hex'),
       substring(e.b FROM (1 + (i * 3571) % 900000)::int FOR (1000 + (i * 15485863) % 9000)::int)
FROM generate_series(1::bigint, :rows_a) AS i, entropy AS e;
INSERT INTO blobs_b
SELECT i, encode(substring(e.b FROM (1 + (i * 104723) % 900000)::int FOR (1000 + (i * 7907) % 9000)::int), 'hex'),
       substring(e.b FROM (1 + (i * 3559) % 900000)::int FOR (1000 + (i * 1299709) % 9000)::int)
FROM generate_series(1::bigint, :rows_b) AS i, entropy AS e;
DROP TABLE entropy;
SQL
}

gen_${shape//-/_}

psql_c -c "VACUUM (FREEZE, ANALYZE)" -c "CHECKPOINT"

psql_c -At -F ' ' <<'SQL' | awk -v secs=$(( $(date +%s) - start )) '
	$1 == "total" { total = $2; next }
	{ printf "  %-22s %8.1f MB\n", $1, $2 }
	END { printf "generate: database %.1f MB in %d s\n", total, secs }'
SELECT CASE WHEN c.relname LIKE 'pgbench%' THEN 'pgbench_*'
            WHEN c.relname LIKE 'small\_%' THEN 'small_001..200'
            WHEN c.relname LIKE 'measurements%' THEN 'measurements'
            WHEN c.relname LIKE 'st\_%' THEN 'st_0001..2000'
            WHEN c.relname LIKE 'side\_%' THEN 'side_1..5'
            ELSE c.relname END AS grp,
       round(sum(pg_total_relation_size(c.oid)) / 1048576.0, 1)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname = 'public'
GROUP BY 1 ORDER BY 2 DESC;
SELECT 'total', round(pg_database_size(current_database()) / 1048576.0, 1);
SQL
