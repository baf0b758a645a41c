
# Copyright (c) pgcrane contributors

# What the data phase does beyond copying rows, so that less is left for
# the end:
#  - foreign keys between copied tables are added by pgcrane as soon as
#    both tables are done (and left out of the post-data restore), including
#    a self-reference, a cycle of two tables, NOT VALID and DEFERRABLE keys;
#    keys on or into partitioned tables stay with the restore;
#  - enum columns travel in binary COPY, arrays of enums in text;
#  - --toast-compression=lz4 writes the TOASTed values with lz4, the
#    default leaves the target's default_toast_compression alone, and a
#    bad value is refused before anything is touched;
#  - a resume that starts over in a new snapshot drops the foreign keys
#    already added before the schema is restored again.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
CREATE SCHEMA s;
CREATE TYPE s.mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE s.customers (id int PRIMARY KEY, name text NOT NULL, mood s.mood,
    referrer int REFERENCES s.customers (id));
CREATE TABLE s.products (id int PRIMARY KEY, code text UNIQUE NOT NULL,
    moods s.mood[]);
CREATE TABLE s.orders (
    id bigint PRIMARY KEY,
    customer_id int NOT NULL REFERENCES s.customers (id) ON DELETE CASCADE,
    product_code text REFERENCES s.products (code) DEFERRABLE INITIALLY DEFERRED,
    note text
);
-- A cycle: each table refers to the other.
CREATE TABLE s.teams (id int PRIMARY KEY, captain int);
CREATE TABLE s.players (id int PRIMARY KEY, team_id int REFERENCES s.teams (id));
ALTER TABLE s.teams ADD CONSTRAINT teams_captain_fkey
    FOREIGN KEY (captain) REFERENCES s.players (id);
-- A key that was never validated, over rows that break it.
CREATE TABLE s.legacy (id int PRIMARY KEY, customer_id int);
INSERT INTO s.customers SELECT i, 'customer ' || i,
    (ARRAY['sad', 'ok', 'happy']::s.mood[])[1 + i % 3],
    CASE WHEN i > 1 THEN i / 2 END FROM generate_series(1, 2000) AS i;
INSERT INTO s.products SELECT i, 'P' || i, ARRAY['ok', 'happy']::s.mood[]
    FROM generate_series(1, 100) AS i;
INSERT INTO s.orders SELECT i, 1 + i % 2000, 'P' || (1 + i % 100), repeat('n', i % 50)
    FROM generate_series(1, 20000) AS i;
INSERT INTO s.teams SELECT i, NULL FROM generate_series(1, 50) AS i;
INSERT INTO s.players SELECT i, 1 + i % 50 FROM generate_series(1, 500) AS i;
UPDATE s.teams SET captain = id * 10;
INSERT INTO s.legacy VALUES (1, 1), (2, 999999);
ALTER TABLE s.legacy ADD CONSTRAINT legacy_customer_fkey
    FOREIGN KEY (customer_id) REFERENCES s.customers (id) NOT VALID;
-- Partitioned tables: keys on them and into them stay with the restore.
CREATE TABLE s.events (id int, at date NOT NULL, customer_id int REFERENCES s.customers (id),
    PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE s.events_2024 PARTITION OF s.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE s.events_2025 PARTITION OF s.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO s.events SELECT i, date '2024-01-01' + i % 700, 1 + i % 2000
    FROM generate_series(1, 3000) AS i;
CREATE TABLE s.event_notes (event_id int, event_at date, body text,
    FOREIGN KEY (event_id, event_at) REFERENCES s.events (id, at));
INSERT INTO s.event_notes SELECT i, date '2024-01-01' + i % 700, 'note'
    FROM generate_series(1, 300) AS i;
-- Compressible values long enough to be compressed and stored out of line.
CREATE TABLE s.docs (id int PRIMARY KEY, body text);
INSERT INTO s.docs SELECT i, repeat('pgcrane moves databases; ', 2000 + i)
    FROM generate_series(1, 40) AS i;
EOSQL

my @fks_by_pgcrane = qw(customers_referrer_fkey orders_customer_id_fkey
  orders_product_code_fkey players_team_id_fkey teams_captain_fkey
  legacy_customer_fkey);

my $dir = "$tempdir/work-default";
clone_ok(
	'clone with foreign keys, enums and TOASTed values',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop'),
	'--jobs' => 2,
	'--dir' => $dir);
databases_equal($src, 'shop', $dst, 'shop');

# The foreign keys between copied tables were added in the data phase.
is( state_query($dir,
		"SELECT group_concat(name, ' ') FROM (SELECT name FROM foreign_keys"
		  . " WHERE status = 'done' ORDER BY name)"),
	join(' ', sort map { "$_ on s." . ($_ =~ /^(\w+?)_/)[0] } @fks_by_pgcrane),
	'pgcrane added every foreign key between copied tables');
my $list = slurp_file("$dir/post-data.list");
foreach my $fk (@fks_by_pgcrane)
{
	like($list, qr/^;\d+; 2606 \d+ FK CONSTRAINT s \w+ \Q$fk\E /m,
		"foreign key $fk is left out of the post-data restore");
}
foreach my $fk (qw(events_customer_id_fkey event_notes_event_id_event_at_fkey))
{
	like($list, qr/^\d+; 2606 \d+ FK CONSTRAINT s \w+ \Q$fk\E /m,
		"foreign key $fk (partitioned table) is restored by pg_restore");
}
is( $dst->safe_psql('shop',
		q{SELECT conname || ' ' || convalidated || ' ' || condeferrable || ' ' || condeferred
		  FROM pg_constraint WHERE contype = 'f' AND conname IN
		  ('legacy_customer_fkey', 'orders_product_code_fkey', 'teams_captain_fkey')
		  ORDER BY 1}),
	"legacy_customer_fkey false false false\n"
	  . "orders_product_code_fkey true true true\n"
	  . "teams_captain_fkey true false false",
	'NOT VALID and DEFERRABLE keys are as on the source');
# The keys work: a row breaking one is refused.
my ($ret, $out, $err) = $dst->psql('shop',
	'INSERT INTO s.orders VALUES (999999, 424242, NULL, NULL)');
like($err, qr/violates foreign key constraint "orders_customer_id_fkey"/,
	'a row breaking a foreign key is refused on the target');

# Enums travel in binary, arrays of enums in text.
is( state_query($dir,
		"SELECT group_concat(name || ' ' || format, ', ') FROM"
		  . " (SELECT name, format FROM tables"
		  . " WHERE name IN ('s.customers', 's.products') ORDER BY name)"),
	's.customers binary, s.products text',
	'an enum column is copied in binary, an array of enums in text');

# Default: the values are compressed with the target's default (pglz).
is( $dst->safe_psql('shop',
		'SELECT string_agg(DISTINCT pg_column_compression(body), \',\') FROM s.docs'),
	'pglz', 'by default TOASTed values use the target server\'s default');

# A resume whose snapshot is gone starts over from the schema; the
# foreign keys already added must not keep --clean from dropping the
# tables.  Made here by hand: the holder stopped, one part not done.
stop_snapshot_holder($dir);
state_query($dir,
	"UPDATE kv SET value = 'failed' WHERE key = 'status';"
	  . " DELETE FROM step WHERE name IN ('data', 'sequences', 'post-data');"
	  . " UPDATE parts SET status = 'pending' WHERE rowid = (SELECT min(rowid) FROM parts);");
my ($rrc, $rout, $rerr) = clone_resume_ok($dir, 'snapshot gone after the keys');
like($rerr, qr/the clone starts over from the schema in a new snapshot/,
	'snapshot gone after the keys: the clone starts over');
clone_result_ok($src, 'shop', $dst, 'shop', $dir, 'snapshot gone after the keys');

# A bad value is refused before anything is touched.
($ret, $out, $err) = run_pgcrane(
	'clone',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop_zstd'),
	'--toast-compression' => 'zstd',
	'--dir' => "$tempdir/work-bad");
is($ret, 2, '--toast-compression=zstd exits 2');
is( (error_lines($err))[0],
	'pgcrane: error: invalid value "zstd" for option --toast-compression',
	'--toast-compression=zstd is refused with one line');
ok(!database_exists($dst, 'shop_zstd'), 'the target is untouched');

# Preflight says what the target can do.
($ret, $out, $err) = run_pgcrane(
	'preflight', '--json',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop_lz4'),
	'--toast-compression' => 'lz4');
is($ret, 0, 'preflight --toast-compression=lz4 passes on this server');
like($out, qr/"target_toast_compression":"pglz","target_lz4":true/,
	'preflight --json reports the target\'s TOAST compression');

# lz4: the copied values are compressed with lz4; the server's default
# and the columns' settings stay as they were.
$dir = "$tempdir/work-lz4";
clone_ok(
	'clone --toast-compression=lz4',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop_lz4'),
	'--toast-compression' => 'lz4',
	'--dir' => $dir);
is( $dst->safe_psql('shop_lz4',
		'SELECT string_agg(DISTINCT pg_column_compression(body), \',\') FROM s.docs'),
	'lz4', 'with --toast-compression=lz4 the TOASTed values use lz4');
is( $dst->safe_psql('shop_lz4',
		q{SELECT attcompression = '' FROM pg_attribute
		  WHERE attrelid = 's.docs'::regclass AND attname = 'body'}),
	't', 'the column keeps its compression setting');
is(state_kv($dir, 'toast_compression'), 'lz4',
	'the state file records the method, for a resume');
clone_result_ok($src, 'shop', $dst, 'shop_lz4', $dir, 'lz4');

done_testing();
