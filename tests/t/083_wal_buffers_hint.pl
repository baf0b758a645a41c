# Copyright (c) pgcrane contributors

# The wal_buffers hint after a clone (README "Target settings"):
#  - a clone of a source of 1 GB or more with two copy workers into a
#    target whose wal_buffers is below 64MB ends with one line naming the
#    setting and its value, and a hint to set it to 64MB;
#  - the same clone with one copy worker, or into a target with
#    wal_buffers = 64MB, has no such line;
#  - preflight --json reports the target's wal_buffers in bytes.
#
# The source's gigabyte is pages left empty by a DELETE that no vacuum
# reclaims (autovacuum off for that table), so the clone copies few rows
# while the catalog reports the size.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE big');
# One row of about 800 bytes per page (fillfactor 10): 140,000 pages.
$src->safe_psql('big', <<'EOSQL');
CREATE TABLE empty_pages (id int, pad text)
    WITH (fillfactor = 10, autovacuum_enabled = false);
ALTER TABLE empty_pages ALTER COLUMN pad SET STORAGE PLAIN;
INSERT INTO empty_pages SELECT i, repeat('x', 780) FROM generate_series(1, 140000) AS i;
DELETE FROM empty_pages WHERE id > 10;
CREATE TABLE kept (id int PRIMARY KEY, v text);
INSERT INTO kept SELECT i, md5(i::text) FROM generate_series(1, 1000) AS i;
EOSQL
my $size = $src->safe_psql('big', "SELECT pg_table_size('empty_pages')");
cmp_ok($size, '>=', 1024 * 1024 * 1024, 'the source table takes 1 GB or more');

my $wal_buffers = $dst->safe_psql('postgres',
	"SELECT setting::bigint * pg_size_bytes(unit) FROM pg_settings WHERE name = 'wal_buffers'");
cmp_ok($wal_buffers, '<', 64 * 1024 * 1024, 'the target starts with wal_buffers below 64MB');

my ($rc, $out, $err) = run_pgcrane(
	'preflight', '--json',
	'--source' => $src->connstr('big'),
	'--target' => $dst->connstr('big1'));
is($rc, 0, 'preflight passes');
like($out, qr/"target_wal_buffers":$wal_buffers,/,
	'preflight --json reports the target\'s wal_buffers in bytes');

my $shown = $dst->safe_psql('postgres', 'SHOW wal_buffers');
my $hint = qr/^pgcrane: the target's wal_buffers is \Q$shown\E: copy sessions writing at once wait for each other to write WAL\npgcrane: hint: Set wal_buffers = 64MB on the target for the clone \(it takes a restart\)\.$/m;

# Clone the source into database $db with $jobs copy workers: its stderr.
sub clone_with_jobs
{
	my ($name, $db, $jobs) = @_;
	my (undef, undef, $stderr) = clone_ok(
		$name,
		'--source' => $src->connstr('big'),
		'--target' => $dst->connstr($db),
		'--dir' => "$tempdir/$db",
		'--jobs' => $jobs);
	return $stderr;
}

$err = clone_with_jobs('clone with two jobs', 'big1', 2);
like($err, $hint, 'two copy workers into small WAL buffers: the hint');
is(scalar(() = $err =~ /wal_buffers/g), 2, 'the setting is named on two lines only');
is($dst->safe_psql('big1', 'SELECT count(*) FROM empty_pages'), '10', 'the rows were copied');

$err = clone_with_jobs('clone with one job', 'big2', 1);
unlike($err, qr/wal_buffers/, 'one copy worker: no hint');

$dst->append_conf('postgresql.conf', "wal_buffers = 64MB\n");
$dst->restart;
$err = clone_with_jobs('clone into a target with wal_buffers = 64MB', 'big3', 2);
unlike($err, qr/wal_buffers/, 'wal_buffers = 64MB: no hint');

done_testing();
