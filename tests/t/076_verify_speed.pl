
# Copyright (c) pgcrane contributors

# What makes pgcrane verify fast must not make it blind.  Text, varchar
# and bytea columns enter a row's hash as their own hashes, and large
# tables, TOAST included, are checksummed in parts; on a correct copy
# verify says OK, and each difference below, planted on the copy then
# undone, must be found, with both row hashes (hashtextextended and md5)
# where it concerns the hash:
#  - values that a hash per column would confuse: text moved across a
#    column boundary, NULL against an empty text, varchar and bytea,
#    NULL and '' swapped between two columns, the same bytes as text in
#    one column and as bytea in the next, values swapped between two rows
#    of a table without key (per-column sums would not change);
#  - one character deep inside a TOASTed text, one byte inside a TOASTed
#    bytea, by key;
#  - a cast from bytea to text on the target alone, which the bytea hashes
#    do not go through: still equal, and a changed byte still found;
#  - rows in the middle part of a table cut into parts by its TOAST
#    (its heap alone is under the split size), by key;
#  - a row in the second part of a table that the default split cuts in
#    two (over 32 MB on two jobs), by key.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE vs');
$src->safe_psql('vs', <<'EOSQL');
-- No key: a difference shows as the table's checksum.
CREATE TABLE cols (n int, a text, b text, v varchar(20), c bytea, d bytea);
INSERT INTO cols VALUES
    (1, 'ab', 'c', 'x', '\x41', NULL),
    (2, NULL, '', '', '\x', NULL),
    (3, 'x', 'y', NULL, NULL, '\x42'),
    (4, 'z', 'w', 'v', '\x43', '\x44'),
    (5, '\x41', NULL, 'u', NULL, NULL);

-- Incompressible text and bytea of 20 to 40 kB, stored out of line, and
-- an inline pad so that the heap has blocks enough for parts.
CREATE TABLE docs (id int PRIMARY KEY, body text, att bytea, pad text);
INSERT INTO docs
SELECT g, (SELECT string_agg(md5(g || ':' || i), '') FROM generate_series(1, 600 + g % 7 * 100) AS i),
       (SELECT string_agg(decode(md5(i || '/' || g), 'hex'), ''::bytea)
        FROM generate_series(1, 1250 + g % 5 * 200) AS i),
       repeat(chr(97 + g % 26), 400)
FROM generate_series(1, 400) AS g;

-- Over 32 MB of heap.
CREATE TABLE big (id bigint PRIMARY KEY, payload text NOT NULL);
INSERT INTO big SELECT g, md5(g::text) || md5((g + 1)::text)
FROM generate_series(1, 400000) AS g;
VACUUM ANALYZE;
EOSQL

ok( $src->safe_psql('vs',
		"SELECT pg_table_size('docs') > 8 * pg_relation_size('docs') "
		  . "AND pg_relation_size('docs') < 1024 * 1024 "
		  . "AND pg_relation_size('docs') > 16 * 8192"),
	'docs has its data in TOAST, a heap under 1 MB of more than 16 blocks');
ok($src->safe_psql('vs', "SELECT pg_relation_size('big') > 34 * 1024 * 1024"),
	'big is over 32 MB');

my $dump = "$tempdir/vs.dump";
$src->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $src->connstr('vs') ],
	'pg_dump of the source');
$dst->safe_psql('postgres', 'CREATE DATABASE vs');
$dst->command_ok([ 'pg_restore', '-d', $dst->connstr('vs'), $dump ],
	'restore on the target');

sub verify
{
	my (@opts) = @_;
	return run_pgcrane('verify', '--data-only', '--source' => $src->connstr('vs'),
		'--target' => $dst->connstr('vs'), @opts);
}

# Plant a difference on the target, verify, undo it, and check that
# verify exited 1 and printed every expected line and the count.
sub plant_and_verify
{
	my ($name, $plant, $undo, $expected, %args) = @_;
	my $opts = $args{opts} // [];

	$dst->safe_psql('vs', $plant);
	my ($rc, $out, $err) = verify(@$opts);
	$dst->safe_psql('vs', $undo);
	is($rc, 1, "$name: verify exits 1") or diag($out . $err);
	foreach my $line (@$expected)
	{
		like($out, qr/^\Q$line\E( \(.*\))?$/m, "$name: reports \"$line\"");
	}
	my $count = scalar @$expected;
	my $word = $count == 1 ? 'difference' : 'differences';
	like($out, qr/^verify: $count $word\n\z/m,
		"$name: last line counts $count $word")
	  or diag($out);
	return $err;
}

my ($rc, $out, $err) = verify('--jobs' => 2, '-v');
is($rc, 0, 'correct copy: verify exits 0') or diag($out . $err);
like($out, qr/\Averify: OK \(3 tables, 400405 rows\)\n\z/,
	'correct copy: prints only the OK line');
like($err, qr/^pgcrane: debug: table "public.big" is checksummed in 2 parts$/m,
	'correct copy: the default split cuts big in two on two jobs');
unlike($err, qr/table "public.docs" is checksummed/,
	'correct copy: docs is too small for the default split');
($rc, $out, $err) = verify('--split-tables-larger-than' => '1MB', '-v');
is($rc, 0, 'correct copy, 1MB split: verify exits 0') or diag($out . $err);
like($err, qr/^pgcrane: debug: table "public.docs" is checksummed in \d\d? parts$/m,
	'correct copy, 1MB split: docs is cut by its TOAST');
{
	local $ENV{PGCRANE_VERIFY_HASH} = 'md5';
	($rc, $out, $err) = verify();
	is($rc, 0, 'correct copy, md5 row hashes: verify exits 0') or diag($out . $err);
}

# Each case: name, plant, undo.  Rows are put back as they were; the
# order they are stored in does not matter to a checksum.
my @confusions = (
	[
		'text across a column boundary',
		"UPDATE cols SET a = 'a', b = 'bc' WHERE n = 1",
		"UPDATE cols SET a = 'ab', b = 'c' WHERE n = 1"
	],
	[
		'NULL against an empty text',
		"UPDATE cols SET a = '' WHERE n = 2",
		"UPDATE cols SET a = NULL WHERE n = 2"
	],
	[
		'NULL against an empty varchar',
		"UPDATE cols SET v = NULL WHERE n = 2",
		"UPDATE cols SET v = '' WHERE n = 2"
	],
	[
		'NULL against an empty bytea',
		"UPDATE cols SET c = NULL WHERE n = 2",
		"UPDATE cols SET c = '\\x' WHERE n = 2"
	],
	[
		'NULL and empty swapped between columns',
		"UPDATE cols SET a = '', b = NULL WHERE n = 2",
		"UPDATE cols SET a = NULL, b = '' WHERE n = 2"
	],
	[
		'a bytea moved to the next column',
		"UPDATE cols SET c = NULL, d = '\\x41' WHERE n = 1",
		"UPDATE cols SET c = '\\x41', d = NULL WHERE n = 1"
	],
	[
		'the same text as text in one column, as bytea hex in the next',
		"UPDATE cols SET a = NULL, c = '\\x41' WHERE n = 5",
		"UPDATE cols SET a = '\\x41', c = NULL WHERE n = 5"
	],
	[
		'values swapped between two rows',
		"UPDATE cols SET b = CASE n WHEN 3 THEN 'w' ELSE 'y' END WHERE n IN (3, 4)",
		"UPDATE cols SET b = CASE n WHEN 3 THEN 'y' ELSE 'w' END WHERE n IN (3, 4)"
	],);
foreach my $hash ('hashtextextended', 'md5')
{
	local %ENV = %ENV;
	delete $ENV{PGCRANE_VERIFY_HASH};
	$ENV{PGCRANE_VERIFY_HASH} = 'md5' if $hash eq 'md5';
	foreach my $case (@confusions)
	{
		plant_and_verify("$case->[0] ($hash)", $case->[1], $case->[2],
			['checksum differs: table "public.cols" (5 rows)']);
	}
}

plant_and_verify(
	'one character deep inside a TOASTed text',
	"UPDATE docs SET body = overlay(body placing 'Z' from 15000) WHERE id = 123",
	"UPDATE docs SET body = (SELECT string_agg(md5(123 || ':' || i), '') "
	  . "FROM generate_series(1, 600 + 123 % 7 * 100) AS i) WHERE id = 123",
	['changed: row of "public.docs" with key (id)=(123)']);

plant_and_verify(
	'one byte inside a TOASTed bytea',
	'UPDATE docs SET att = set_byte(att, 20000, (get_byte(att, 20000) + 1) % 256) '
	  . 'WHERE id = 321',
	'UPDATE docs SET att = set_byte(att, 20000, (get_byte(att, 20000) + 255) % 256) '
	  . 'WHERE id = 321',
	['changed: row of "public.docs" with key (id)=(321)']);

# A cast from bytea to text that the target alone defines, and that
# loses everything: bytea values are hashed as byteaout prints them, not
# through whatever cast the database has.
$dst->safe_psql('vs', <<'EOSQL');
CREATE FUNCTION public.lossy(bytea) RETURNS text LANGUAGE sql IMMUTABLE
    AS $$SELECT 'same'::text$$;
CREATE CAST (bytea AS text) WITH FUNCTION public.lossy(bytea);
EOSQL
($rc, $out, $err) = verify();
is($rc, 0, 'a bytea-to-text cast on the target: verify exits 0') or diag($out . $err);
plant_and_verify(
	'a bytea-to-text cast on the target, a byte changed',
	"UPDATE cols SET c = '\\x45' WHERE n = 4",
	"UPDATE cols SET c = '\\x43' WHERE n = 4",
	['checksum differs: table "public.cols" (5 rows)']);
$dst->safe_psql('vs', 'DROP CAST (bytea AS text); DROP FUNCTION public.lossy(bytea)');

# The rows of the middle blocks of docs on the source.
my $blocks = $src->safe_psql('vs',
	"SELECT pg_relation_size('docs') / current_setting('block_size')::int");
my $mid = $src->safe_psql('vs',
	"SELECT min(id) FROM docs WHERE ctid >= '(" . int($blocks / 2) . ",0)'::tid");
my $err_split = plant_and_verify(
	'rows in the middle part of a table cut by its TOAST',
	"UPDATE docs SET pad = 'changed' WHERE id = $mid; "
	  . 'DELETE FROM docs WHERE id = 200',
	"UPDATE docs SET pad = repeat(chr(97 + $mid % 26), 400) WHERE id = $mid; "
	  . "INSERT INTO docs SELECT 200, (SELECT string_agg(md5(200 || ':' || i), '') "
	  . "FROM generate_series(1, 600 + 200 % 7 * 100) AS i), "
	  . "(SELECT string_agg(decode(md5(i || '/' || 200), 'hex'), ''::bytea) "
	  . "FROM generate_series(1, 1250 + 200 % 5 * 200) AS i), "
	  . "repeat(chr(97 + 200 % 26), 400)",
	[
		"changed: row of \"public.docs\" with key (id)=($mid)",
		'missing on target: row of "public.docs" with key (id)=(200)',
	],
	opts => [ '--split-tables-larger-than' => '1MB', '-v' ]);
like($err_split, qr/table "public.docs" is checksummed in \d\d? parts/,
	'rows in the middle part: docs was checksummed in parts');

plant_and_verify(
	'a row in the second part of big',
	"UPDATE big SET payload = 'x' WHERE id = 350000",
	'UPDATE big SET payload = md5(350000::text) || md5(350001::text) WHERE id = 350000',
	['changed: row of "public.big" with key (id)=(350000)'],
	opts => [ '--jobs' => 2 ]);

# Everything undone: equal again.
($rc, $out, $err) = verify('--jobs' => 2);
is($rc, 0, 'every plant undone: verify exits 0') or diag($out . $err);

done_testing();
