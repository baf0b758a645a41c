
# Copyright (c) pgcrane contributors

# pgcrane verify against real servers.  The target starts as a correct copy
# of the source (pg_dump | psql) holding the values that trip naive
# comparisons: float NaN, -0 and infinities, numeric NaN, timestamps at
# +-infinity, jsonb, arrays, composite and range types, TOASTed values,
# NULL next to empty strings.  verify must call it equal.  Then each
# difference below is planted on a fresh copy, and verify must exit 1 and
# name the object (and, for keyed tables, the key):
#  - a deleted row, an inserted row, a byte changed inside a TOASTed
#    bytea, a changed numeric, NULL changed to an empty string (keyed and
#    unkeyed tables), rows deep inside a large table and under a
#    composite text key
#  - a changed sequence value, a dropped index, a changed function body,
#    a changed column type, a missing large object, a different owner, a
#    revoked privilege

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

# Roles are the cluster's: both need those the dump grants to.
$src->safe_psql('postgres', 'CREATE ROLE reader');
$dst->safe_psql('postgres', 'CREATE ROLE reader; CREATE ROLE someone');
$src->safe_psql('postgres', 'CREATE DATABASE vt');
$src->safe_psql('vt', <<'EOSQL');
CREATE TYPE pair AS (a int, b text);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);

-- Values whose text form is easy to get wrong.
CREATE TABLE odd (
    id int PRIMARY KEY,
    f8 float8,
    f4 float4,
    n numeric,
    tstz timestamptz,
    ts timestamp,
    d date,
    iv interval,
    j jsonb,
    ints int[],
    texts text[],
    p pair,
    r int4range,
    tr tstzrange,
    m mood,
    pos posint,
    note text
);
INSERT INTO odd VALUES
    (1, 'NaN', 'NaN', 'NaN', 'infinity', '-infinity', 'infinity', '1 day',
     '{"a": [1, 2.50, null], "b": {"c": "d"}}', '{1,NULL,3}',
     '{"x,y","",NULL}', ROW(1, 'one'), '[1,10)', '[2024-01-01,infinity)',
     'happy', 1, NULL),
    (2, '-0', '-0', '-0.000', '-infinity', 'infinity', '-infinity',
     '-1 mons +2 days -00:00:01', '[]', '{}', '{}', ROW(NULL, ''), 'empty',
     '(,)', 'sad', 2, ''),
    (3, 'Infinity', '-Infinity', '1e-30', '2024-02-29 12:34:56.789+05:30',
     '1999-12-31 23:59:59.999999', '2000-01-01', '1 year 2 mons',
     '"text"', '{{1,2},{3,4}}', '{"a\"b","c\\d"}', NULL, '(,5]', NULL,
     NULL, NULL, 'a'),
    (4, 1.0 / 3, 0.1, 123456789012345678901234567890.123456789, now(),
     'epoch', 'epoch', '0', 'null', NULL, NULL, ROW(4, 'f"our'),
     '[4,5]', '[2020-01-01,2020-01-02)', 'ok', 4, ' ');

-- A keyed table with NULLs and a numeric.
CREATE TABLE items (
    id int PRIMARY KEY,
    name text NOT NULL,
    price numeric(12, 2),
    note text
);
INSERT INTO items
SELECT g, 'item ' || g, g * 1.5,
       CASE WHEN g % 10 = 0 THEN NULL ELSE 'note ' || g END
FROM generate_series(1, 1000) AS g;

-- TOASTed values: random bytes (stored out of line, uncompressed) and a
-- long compressible text.
CREATE TABLE blobs (id int PRIMARY KEY, data bytea, doc text);
INSERT INTO blobs
SELECT g, (SELECT string_agg(decode(md5(g::text || ':' || i), 'hex'), ''::bytea)
           FROM generate_series(1, 6000) AS i),
       repeat('lorem ipsum ', 20000)
FROM generate_series(1, 3) AS g;

-- Large enough that finding a row takes more than one split.
CREATE TABLE big (id bigint PRIMARY KEY, grp int NOT NULL, payload text);
INSERT INTO big SELECT g, g % 97, md5(g::text) FROM generate_series(1, 120000) AS g;
CREATE INDEX big_grp ON big (grp);

-- A key of text and int.
CREATE TABLE regions (region text, n int, v text, PRIMARY KEY (region, n));
INSERT INTO regions
SELECT (ARRAY['north', 'south', 'East', 'wést'])[1 + g % 4], g, 'v' || g
FROM generate_series(1, 40000) AS g;

-- No key at all.
CREATE TABLE nokey (x int, y text);
INSERT INTO nokey SELECT g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'y' END
FROM generate_series(1, 100) AS g;

CREATE SEQUENCE s;
SELECT setval('s', 42);

CREATE FUNCTION add_ints(a integer, b integer) RETURNS integer
    LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE VIEW cheap_items AS SELECT id, name FROM items WHERE price < 10;
CREATE MATERIALIZED VIEW item_count AS SELECT count(*) AS n FROM items;
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql
    AS $$BEGIN NEW.note := coalesce(NEW.note, 'touched'); RETURN NEW; END$$;
CREATE TRIGGER items_touch BEFORE UPDATE ON items
    FOR EACH ROW WHEN (NEW.name = 'never') EXECUTE FUNCTION touch();
ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY items_all ON items USING (id > 0);
COMMENT ON TABLE items IS 'things for sale';
GRANT SELECT ON blobs TO reader;
COMMENT ON COLUMN items.price IS 'in euros';

SELECT lo_from_bytea(0, 'hello');
SELECT lo_from_bytea(0, decode(repeat('abcd', 50000), 'hex'));
SELECT lo_from_bytea(0, '');
EOSQL

# The bytea values must really be TOASTed for the test to mean anything.
ok( $src->safe_psql('vt',
		"SELECT count(*) > 0 FROM pg_class c, pg_class t "
		  . "WHERE c.relname = 'blobs' AND t.oid = c.reltoastrelid "
		  . "AND pg_relation_size(t.oid) > 0") eq 't',
	'the bytea values are stored out of line');

my @lobjs = split /\n/,
  $src->safe_psql('vt', 'SELECT oid FROM pg_largeobject_metadata ORDER BY oid');

my $dump = "$tempdir/vt.sql";
$src->command_ok([ 'pg_dump', '-f', $dump, '-d', $src->connstr('vt') ],
	'pg_dump of the source');

# A fresh correct copy of the source on the target.
sub fresh_target
{
	$dst->safe_psql('postgres', 'DROP DATABASE IF EXISTS vt');
	$dst->safe_psql('postgres', 'CREATE DATABASE vt');
	$dst->command_ok(
		[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $dump,
			'-d', $dst->connstr('vt') ],
		'restore the dump on the target');
	return;
}

sub verify
{
	my (@opts) = @_;
	return run_pgcrane('verify', '--source' => $src->connstr('vt'),
		'--target' => $dst->connstr('vt'), @opts);
}

# Plant a difference on a fresh copy, run verify, and check that it exits
# 1, prints every expected line and counts as many differences.
sub plant_and_verify
{
	my ($name, $sql, $expected, %args) = @_;
	my $opts = $args{opts} // [];

	fresh_target();
	$dst->safe_psql('vt', $sql);
	my ($rc, $out, $err) = verify(@$opts);
	is($rc, 1, "$name: verify exits 1") or diag($err);
	foreach my $line (@$expected)
	{
		like($out, qr/^\Q$line\E( \(.*\))?$/m, "$name: reports \"$line\"");
	}
	my $count = $args{count} // scalar @$expected;
	my $word = $count == 1 ? 'difference' : 'differences';
	like($out, qr/^verify: $count $word\n\z/m,
		"$name: last line counts $count $word")
	  or diag($out);
	return $out;
}

# A correct copy is equal.
fresh_target();
my ($rc, $out, $err) = verify();
is($rc, 0, 'correct copy: verify exits 0') or diag($out . $err);
my $ntables = $src->safe_psql('vt',
	"SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
	  . "WHERE n.nspname = 'public' AND c.relkind = 'r'");
my $nrows = 4 + 1000 + 3 + 120000 + 40000 + 100;
like($out, qr/\Averify: OK \($ntables tables, $nrows rows\)\n\z/,
	'correct copy: prints only the OK line with tables and rows');

# The same with large tables checksummed in parts, in parallel.
($rc, $out, $err) = verify('--split-tables-larger-than' => '1MB', '--jobs' => 4);
is($rc, 0, 'correct copy, tables in parts: verify exits 0') or diag($out . $err);
like($out, qr/\Averify: OK \($ntables tables, $nrows rows\)\n\z/,
	'correct copy, tables in parts: same totals');

# The same with rows hashed by md5, as between servers whose hash
# functions differ.
{
	local $ENV{PGCRANE_VERIFY_HASH} = 'md5';
	($rc, $out, $err) = verify();
	is($rc, 0, 'correct copy, md5 row hashes: verify exits 0') or diag($out . $err);
}

# The same as JSON, and recorded in a work directory.
my $dir = "$tempdir/work";
($rc, $out, $err) = verify('--json', '--dir' => $dir, '--jobs' => 3);
is($rc, 0, 'correct copy, --json: verify exits 0') or diag($err);
my $report = eval { decode_json($out) };
ok($report, 'the report is JSON') or diag($@);
is($report->{status}, 'ok', 'JSON status is ok');
is($report->{differences}, 0, 'JSON counts no difference');
is($report->{tables}, $ntables, 'JSON counts the tables');
is(scalar @{ $report->{table_results} }, $ntables + 1,
	'JSON lists every table and the materialized view');
my ($big) = grep { $_->{table} eq 'public.big' } @{ $report->{table_results} };
ok($big && $big->{keyed} && $big->{source_rows} == 120000,
	'JSON describes table public.big');
my $status = `sqlite3 "$dir/state.db" "SELECT value FROM kv WHERE key = 'verify.status'"`;
chomp $status;
is($status, 'ok', 'verify.status is recorded in the state file');
my $stored = `sqlite3 "$dir/state.db" "SELECT value FROM kv WHERE key = 'verify.result'"`;
is(eval { decode_json($stored)->{status} }, 'ok',
	'verify.result holds the JSON report');

# Each difference the issue lists, on its own.
plant_and_verify('deleted row', 'DELETE FROM items WHERE id = 42',
	['missing on target: row of "public.items" with key (id)=(42)']);

plant_and_verify('inserted row',
	"INSERT INTO items VALUES (1001, 'new', 1, NULL)",
	['extra on target: row of "public.items" with key (id)=(1001)']);

{
	local $ENV{PGCRANE_VERIFY_HASH} = 'md5';
	plant_and_verify(
		'md5 row hashes',
		"UPDATE items SET note = '' WHERE id = 20; DELETE FROM big WHERE id = 3",
		[
			'missing on target: row of "public.big" with key (id)=(3)',
			'changed: row of "public.items" with key (id)=(20)',
		]);
}

plant_and_verify(
	'byte changed in a TOASTed bytea',
	'UPDATE blobs SET data = set_byte(data, 50000, '
	  . '(get_byte(data, 50000) + 1) % 256) WHERE id = 2',
	['changed: row of "public.blobs" with key (id)=(2)']);

plant_and_verify('changed numeric',
	'UPDATE items SET price = price + 0.01 WHERE id = 7',
	['changed: row of "public.items" with key (id)=(7)']);

plant_and_verify('NULL changed to an empty string',
	"UPDATE items SET note = '' WHERE id = 10",
	['changed: row of "public.items" with key (id)=(10)']);

plant_and_verify('NULL changed to an empty string, no key',
	"UPDATE nokey SET y = '' WHERE x = 3",
	['checksum differs: table "public.nokey" (100 rows)']);

plant_and_verify('deleted row, no key', 'DELETE FROM nokey WHERE x = 5',
	['row count differs: table "public.nokey" (source 100, target 99)']);

plant_and_verify(
	'rows deep in a large table',
	'DELETE FROM big WHERE id = 77777; '
	  . "UPDATE big SET payload = 'x' WHERE id = 5; "
	  . "INSERT INTO big VALUES (120001, 1, 'new');",
	[
		'changed: row of "public.big" with key (id)=(5)',
		'missing on target: row of "public.big" with key (id)=(77777)',
		'extra on target: row of "public.big" with key (id)=(120001)',
	],
	opts => [ '--split-tables-larger-than' => '1MB' ]);

plant_and_verify(
	'rows under a composite text key',
	"DELETE FROM regions WHERE region = 'wést' AND n = 19; "
	  . "UPDATE regions SET v = 'w' WHERE region = 'East' AND n = 39998",
	[
		'changed: row of "public.regions" with key (region, n)=(East, 39998)',
		'missing on target: row of "public.regions" with key (region, n)=(wést, 19)',
	]);

plant_and_verify('changed float and range',
	"UPDATE odd SET f8 = 0 WHERE id = 2; UPDATE odd SET r = '[1,11)' WHERE id = 1",
	[
		'changed: row of "public.odd" with key (id)=(1)',
		'changed: row of "public.odd" with key (id)=(2)',
	]);

plant_and_verify('changed sequence value', "SELECT setval('s', 43)",
	['differs: sequence "public.s" (source 42 true, target 43 true)']);

plant_and_verify('dropped index', 'DROP INDEX big_grp',
	['missing on target: index "public.big_grp"']);

plant_and_verify(
	'changed function body',
	'CREATE OR REPLACE FUNCTION add_ints(a integer, b integer) '
	  . "RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT b + a'",
	['differs: function "public.add_ints(integer, integer)"']);

plant_and_verify('changed column type',
	'ALTER TABLE nokey ALTER COLUMN x TYPE bigint',
	['differs: column "public.nokey.x" (type integer vs bigint)']);

plant_and_verify('missing large object', "SELECT lo_unlink($lobjs[1])",
	["missing on target: large object $lobjs[1]"]);

plant_and_verify(
	'changed large object',
	"SELECT lo_put($lobjs[0], 0, 'j')",
	["differs: large object $lobjs[0]"]);

plant_and_verify('dropped table', 'DROP TABLE nokey',
	['missing on target: table "public.nokey"']);

# Owners and privileges count unless told not to.
my $owner = $src->safe_psql('vt', 'SELECT current_user');
plant_and_verify('different owner', 'ALTER TABLE items OWNER TO someone',
	["differs: table \"public.items\" (owner $owner vs someone)"]);
($rc, $out, $err) = verify('--no-owner');
is($rc, 0, 'different owner, --no-owner: verify exits 0') or diag($out);

# Another owner grants the same privileges: equal without owners.
plant_and_verify('different owner and grantor',
	'ALTER TABLE blobs OWNER TO someone',
	['differs: table "public.blobs" (owner, acl)']);
($rc, $out, $err) = verify('--no-owner');
is($rc, 0, 'different owner and grantor, --no-owner: verify exits 0')
  or diag($out);

plant_and_verify('revoked privilege', 'REVOKE SELECT ON blobs FROM reader',
	['differs: table "public.blobs"']);
($rc, $out, $err) = verify('--no-owner');
like($out, qr/^differs: table "public.blobs" \(grants reader SELECT vs none\)$/m,
	'revoked privilege, --no-owner: still reported');
($rc, $out, $err) = verify('--no-acl');
is($rc, 0, 'revoked privilege, --no-acl: verify exits 0') or diag($out);

# At most --max-rows rows per table, then one line for the rest.
plant_and_verify(
	'more rows than --max-rows',
	'DELETE FROM items WHERE id BETWEEN 101 AND 105',
	[
		'missing on target: row of "public.items" with key (id)=(101)',
		'missing on target: row of "public.items" with key (id)=(102)',
		'row count differs: table "public.items" (source 1000, target 995, '
		  . 'more rows differ than listed)',
	],
	opts => [ '--max-rows' => 2 ]);

# --schema-only and --data-only look at one half each.
fresh_target();
$dst->safe_psql('vt', 'DELETE FROM items WHERE id = 1; DROP INDEX big_grp');
($rc, $out, $err) = verify('--schema-only');
is($rc, 1, '--schema-only: exits 1');
like($out, qr/^missing on target: index "public.big_grp"$/m,
	'--schema-only: reports the index');
unlike($out, qr/row of/, '--schema-only: does not compare rows');
($rc, $out, $err) = verify('--data-only');
is($rc, 1, '--data-only: exits 1');
like($out, qr/^missing on target: row of "public.items" with key \(id\)=\(1\)$/m,
	'--data-only: reports the row');
unlike($out, qr/index/, '--data-only: does not compare indexes');
($rc, $out, $err) = verify('--json');
$report = eval { decode_json($out) };
is($report && $report->{status}, 'different', 'JSON status is different');
is($report && $report->{differences}, 2, 'JSON counts 2 differences');
ok( $report && (grep { ($_->{key} // '') eq '(id)=(1)' && $_->{object} eq 'public.items' }
		  @{ $report->{items} }),
	'JSON names the row and its key');

# Errors exit 2.
($rc, $out, $err) = run_pgcrane('verify', '--source' => $src->connstr('vt'),
	'--target' => $dst->connstr('nosuchdb'));
is($rc, 2, 'unreachable target: exits 2');
like($err, qr/could not connect to target server/, 'unreachable target: says so');
unlike($out, qr/verify: OK/, 'unreachable target: no verdict');
($rc, $out, $err) = verify('--schema-only', '--data-only');
is($rc, 2, '--schema-only with --data-only: exits 2');
like($err, qr/cannot be used together/, '--schema-only with --data-only: says so');

done_testing();
