
# Copyright (c) pgcrane contributors

# What the cutover carries beyond the stream.  While pgbench writes to the
# source, a followed database gets changes the replication stream does not
# carry: rows of unlogged tables, REFRESH MATERIALIZED VIEW of a view over
# a table, of views over that one (directly and through a plain view) and
# of one over an unlogged table, large objects added (lo_from_bytea,
# lo_import, one of 2.5 MB, a hundred and fifty small ones), rewritten
# (lo_put), unlinked (lo_unlink), given another owner and a grant.  After
# the cutover the target equals the source, pgcrane verify says OK, a
# materialized view unpopulated on the source stays unpopulated, and the
# summary (text and JSON) counts it all.  A second follow cut over with
# --no-refresh-matviews leaves the target's materialized views as they
# were and says so, and verify finds the difference; its cutover fails in
# the middle first (an unlogged table missing on the target) and is run
# again by the same command.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Cwd ();

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

# ---------- functions ----------

# Start clone --follow of database x into target database $db; wait until
# it streams.  Returns the background process.
sub follow_into
{
	my ($db, $dir) = @_;
	my $clone = start_background($tempdir, "clone-$db", pgcrane_path(), 'clone',
		'--follow', '--source' => $src->connstr('x'),
		'--target' => $dst->connstr($db), '--dir' => $dir, '--jobs' => 2);
	ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
		"$db: clone --follow streams")
	  or diag(slurp_if_exists("$tempdir/clone-$db.err"));
	return $clone;
}

sub pgbench
{
	my ($name, $seconds) = @_;
	return start_background($tempdir, $name, 'pgbench', '-n', '-c', '2',
		'-T', $seconds, $src->connstr('x'));
}

sub verify
{
	my ($db) = @_;
	return run_pgcrane('verify', '--source' => $src->connstr('x'),
		'--target' => $dst->connstr($db));
}

sub target_value
{
	my ($db, $sql) = @_;
	return $dst->safe_psql($db, $sql);
}

# ---------- the source ----------

for my $node ($src, $dst)
{
	$node->safe_psql('postgres', 'CREATE ROLE lo_owner; CREATE ROLE lo_reader');
}
$src->safe_psql('postgres', 'CREATE DATABASE x');
command_ok([ 'pgbench', '-i', '-s', '1', '-q', $src->connstr('x') ],
	'pgbench initializes the source');
$src->safe_psql('x', <<'EOSQL');
ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, v text NOT NULL);
INSERT INTO scratch SELECT g, 'before' FROM generate_series(1, 100) g;
CREATE UNLOGGED TABLE emptied (id int);
INSERT INTO emptied VALUES (1), (2);
CREATE TABLE sales (id serial PRIMARY KEY, region text NOT NULL, amount int NOT NULL);
INSERT INTO sales (region, amount)
  SELECT 'r' || (g % 5), g FROM generate_series(1, 500) g;
CREATE MATERIALIZED VIEW by_region AS
  SELECT region, sum(amount) AS total, count(*) AS n FROM sales GROUP BY region;
CREATE VIEW busy_regions AS SELECT region, total FROM by_region WHERE n > 0;
CREATE MATERIALIZED VIEW ranked AS
  SELECT region, rank() OVER (ORDER BY total DESC) AS rank FROM busy_regions;
CREATE MATERIALIZED VIEW top_region AS
  SELECT region, total FROM by_region ORDER BY total DESC LIMIT 1;
CREATE MATERIALIZED VIEW scratch_count AS SELECT count(*) AS n FROM scratch;
CREATE MATERIALIZED VIEW later AS SELECT count(*) AS n FROM sales WITH NO DATA;
SELECT lo_from_bytea(1001, 'kept as it is');
SELECT lo_from_bytea(1002, 'to be rewritten');
SELECT lo_from_bytea(1003, 'to be unlinked');
EOSQL

# ---------- follow, while pgbench writes ----------

my $dir = "$tempdir/work";
my $clone = follow_into('x', $dir);
my $bench = pgbench('pgbench1', 8);

my $file = Cwd::abs_path($tempdir) . "/imported.bin";
open(my $fh, '>', $file) or die "$file: $!";
binmode $fh;
print $fh map { chr($_ % 256) } 0 .. 99_999;
close $fh;
chmod 0644, $file;

$src->safe_psql('x', <<"EOSQL");
UPDATE scratch SET v = 'during' WHERE id <= 50;
DELETE FROM scratch WHERE id > 90;
INSERT INTO scratch SELECT g, 'new' FROM generate_series(1000, 1199) g;
TRUNCATE emptied;
INSERT INTO sales (region, amount) SELECT 'r9', g FROM generate_series(1, 300) g;
REFRESH MATERIALIZED VIEW by_region;
REFRESH MATERIALIZED VIEW ranked;
REFRESH MATERIALIZED VIEW top_region;
REFRESH MATERIALIZED VIEW scratch_count;
SELECT lo_put(1002, 3, 'REWRITTEN');
SELECT lo_unlink(1003);
SELECT lo_from_bytea(2001, convert_to(repeat('large object ', 200000), 'UTF8'));
SELECT lo_import('$file', 2002);
SELECT lo_from_bytea(3000 + g, convert_to('small ' || g, 'UTF8'))
  FROM generate_series(1, 150) g;
SELECT lo_from_bytea(2003, 'owned by another role');
ALTER LARGE OBJECT 2003 OWNER TO lo_owner;
GRANT SELECT ON LARGE OBJECT 2003 TO lo_reader;
EOSQL
is(wait_background($bench, 4 * $timeout), 0, 'pgbench succeeds during the follow')
  or diag(slurp_if_exists("$tempdir/pgbench1.err"));
is(target_value('x', 'SELECT count(*) FROM scratch'), '100',
	'before the cutover the unlogged table holds its rows of the clone');
is(target_value('x', "SELECT count(*) FROM by_region WHERE region = 'r9'"), '0',
	'before the cutover the materialized view holds its rows of the clone');

# ---------- cutover ----------

my ($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($err);
is(wait_background($clone, $timeout), 0, 'clone --follow ends after the cutover')
  or diag(slurp_if_exists("$tempdir/clone-x.err"));
note("cutover:\n$err");
like($err, qr/^  unlogged tables +2 copied again \(290 rows\)$/m,
	'the summary counts the unlogged tables copied again');
like($err, qr/^  materialized views +4 refreshed in [\d.]+ s: public\.by_region \([\d.]+ s\), (public\.\w+ \([\d.]+ s\), ){2}public\.\w+ \([\d.]+ s\); 1 not populated on the source, left unpopulated$/m,
	'the summary names the materialized views refreshed and the unpopulated one');
like($err, qr/^  large objects +154 copied \(\d+ bytes\), 1 unlinked, 1 unchanged$/m,
	'the summary counts the large objects copied, unlinked and unchanged');
unlike($err, qr/- (large objects|materialized views|unlogged tables)/,
	'none of them is in the list of what was not carried');
my ($mvlist) = $err =~ /materialized views +\d+ refreshed in [\d.]+ s: ([^;\n]*)/;
my @order = map { /^public\.(\w+)/ ? $1 : () } split /, /, ($mvlist // '');
my %at = map { $order[$_] => $_ } 0 .. $#order;
ok(defined $at{by_region} && $at{by_region} < $at{ranked} && $at{by_region} < $at{top_region},
	'a materialized view over another one is refreshed after it (' . join(' ', @order) . ')');

tables_equal($src, 'x', $dst, 'x');
large_objects_equal($src, 'x', $dst, 'x');
is(target_value('x', "SELECT relispopulated FROM pg_class WHERE relname = 'later'"), 'f',
	'a materialized view not populated on the source stays unpopulated');
is(target_value('x', 'SELECT n FROM scratch_count'), '290',
	'a materialized view over an unlogged table is refreshed after its copy');
is(target_value('x',
	"SELECT pg_get_userbyid(lomowner) || ' ' || lomacl::text FROM pg_largeobject_metadata WHERE oid = 2003"),
	$src->safe_psql('x',
	"SELECT pg_get_userbyid(lomowner) || ' ' || lomacl::text FROM pg_largeobject_metadata WHERE oid = 2003"),
	'a new large object has the owner and privileges of the source');
($rc, $out, $err) = verify('x');
is($rc, 0, 'verify finds the target equal after the cutover') or diag($out . $err);
like($out, qr/^verify: OK/m, 'verify says OK');

($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--json');
is($rc, 0, 'cutover --json after the cutover shows the summary again');
like($out, qr/"unlogged_tables": \{"copied": 2, "rows": 290\}/, 'JSON: unlogged tables');
like($out, qr/"materialized_views": \{"refreshed_count": 4, "seconds": [\d.]+, "not_refreshed": 0, "unpopulated": 1, "refreshed": \[\{"name": "public.by_region", "seconds": [\d.]+\}/,
	'JSON: materialized views, in refresh order');
like($out, qr/"large_objects": \{"copied": 154, "bytes": \d+, "unlinked": 1, "unchanged": 1\}/,
	'JSON: large objects');
run_pgcrane('cleanup', '--dir', $dir);
stop_snapshot_holder($dir);

# ---------- --no-refresh-matviews ----------

my $dir2 = "$tempdir/work2";
$clone = follow_into('x2', $dir2);
$src->safe_psql('x', <<'EOSQL');
INSERT INTO sales (region, amount) VALUES ('r10', 1);
REFRESH MATERIALIZED VIEW by_region;
SELECT lo_unlink(1001);
EOSQL

# A cutover that fails in the middle is run again by the same command: the
# target lacks an unlogged table, whose copy fails.
$dst->safe_psql('x2', 'DROP TABLE emptied');
($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir2, '--no-refresh-matviews',
	'--timeout', 4 * $timeout);
isnt(wait_background($clone, $timeout), 0, 'the follow stops when the cutover cannot copy a table')
  or diag(slurp_if_exists("$tempdir/clone-x2.err"));
like(slurp_if_exists("$tempdir/clone-x2.err"),
	qr/error: .*relation "public\.emptied" does not exist/, 'the follow names what failed');
isnt(state_kv($dir2, 'follow.phase'), 'done', 'the cutover is not recorded as done');
$dst->safe_psql('x2', 'CREATE UNLOGGED TABLE emptied (id int)');

($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir2, '--no-refresh-matviews',
	'--json', '--timeout', 4 * $timeout);
is($rc, 0, 'cutover --no-refresh-matviews run again succeeds') or diag($err);
like($out, qr/"unlogged_tables": \{"copied": 2, "rows": 290\}/,
	'the unlogged tables are copied by the cutover run again');
like($out, qr/"materialized_views": \{"refreshed_count": 0, "seconds": [\d.]+, "not_refreshed": 4, "unpopulated": 1, "refreshed": \[\]\}/,
	'JSON: no materialized view refreshed');
like($out, qr/"materialized views: 5, not refreshed \(--no-refresh-matviews\); the target's hold their contents as of the clone: refresh them there"/,
	'the materialized views are in the list of what was not carried');
is(target_value('x2', 'SELECT count(*) FROM pg_largeobject_metadata WHERE oid = 1001'), '0',
	'the large object unlinked during the second follow is unlinked');
is(target_value('x2', "SELECT count(*) FROM by_region WHERE region = 'r10'"), '0',
	'the target keeps the materialized view as of the clone');
($rc, $out, $err) = verify('x2');
is($rc, 1, 'verify finds the materialized view not refreshed');
like($out, qr/materialized view "public\.by_region"/, 'verify names it');
run_pgcrane('cleanup', '--dir', $dir2);
stop_snapshot_holder($dir2);

note("clone:\n" . slurp_if_exists("$tempdir/clone-x.err"));
done_testing();
