
# Copyright (c) pgcrane contributors

# pgcrane verify neither cries wolf nor looks away.  pagila, with the
# objects that used to raise false alarms added to it, is cloned and must
# verify OK:
#  - privileges granted then revoked (an explicit ACL equal to the
#    default, which pg_dump does not print) on tables, sequences, columns,
#    functions, types, schemas and the database;
#  - foreign keys on partitioned tables (pagila's payment, and one that
#    references a partitioned table), whose clones on the partitions the
#    server names itself;
#  - an invalid index (a failed CREATE INDEX CONCURRENTLY), which pg_dump
#    leaves out on purpose.
# Then each difference below is planted on the copy, verify must exit 1
# and name it, and the plant is undone: database settings, role settings
# in the database, database privileges, connection limit and comment,
# column order, statistics targets of a column and of an index column,
# the contents of a materialized view.  chinook and netflix, after the
# same grant and revoke cycles, verify OK too.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

foreach my $node ($src, $dst)
{
	$node->safe_psql('postgres', 'CREATE ROLE reader');
}
load_dataset($src, 'pagila', 'pagila');

$src->safe_psql('pagila', <<'EOSQL');
-- Grant and revoke: the ACLs stay stored, equal to the defaults.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
REVOKE SELECT ON ALL TABLES IN SCHEMA public FROM reader;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO reader;
REVOKE USAGE ON ALL SEQUENCES IN SCHEMA public FROM reader;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO reader;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM reader;
GRANT UPDATE (title) ON film TO reader;
REVOKE UPDATE (title) ON film FROM reader;
GRANT USAGE ON TYPE mpaa_rating TO reader;
REVOKE USAGE ON TYPE mpaa_rating FROM reader;
GRANT USAGE ON SCHEMA public TO reader;
REVOKE USAGE ON SCHEMA public FROM reader;
GRANT CREATE ON DATABASE pagila TO reader;
REVOKE CREATE ON DATABASE pagila FROM reader;

-- A foreign key that references a partitioned table.
CREATE TABLE zones (zone int, id int, PRIMARY KEY (zone, id))
    PARTITION BY LIST (zone);
CREATE TABLE zones_1 PARTITION OF zones FOR VALUES IN (1);
CREATE TABLE zones_2 PARTITION OF zones FOR VALUES IN (2);
CREATE TABLE visits (zone int, zone_id int, at date,
    FOREIGN KEY (zone, zone_id) REFERENCES zones ON DELETE CASCADE)
    PARTITION BY RANGE (at);
CREATE TABLE visits_2024 PARTITION OF visits
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE visits_2025 (zone int, zone_id int, at date);
ALTER TABLE visits ATTACH PARTITION visits_2025
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO zones VALUES (1, 1), (2, 1);
INSERT INTO visits VALUES (1, 1, '2024-05-01'), (2, 1, '2025-05-01');

-- A table whose column order is planted, an expression index whose
-- statistics target is, and a materialized view whose contents are.
CREATE TABLE ord (a int, b text);
CREATE INDEX film_lower_title ON film (lower(title));
CREATE TABLE tally (k int, v int);
INSERT INTO tally SELECT g, g FROM generate_series(1, 10) AS g;
CREATE MATERIALIZED VIEW tally_sum AS SELECT sum(v) AS total FROM tally;
CREATE MATERIALIZED VIEW tally_later AS SELECT k FROM tally WITH NO DATA;
EOSQL

# An index that a failed CREATE INDEX CONCURRENTLY leaves invalid.
my ($rc, $out, $err) = $src->psql('pagila',
	'CREATE UNIQUE INDEX CONCURRENTLY actor_dup ON actor (last_name)');
isnt($rc, 0, 'the unique index cannot be built on duplicates');
is( $src->safe_psql('pagila',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 'actor_dup'::regclass"),
	'f',
	'the source has an invalid index');

clone_ok(
	'clone succeeds',
	'--source' => $src->connstr('pagila'),
	'--target' => $dst->connstr('pagila'),
	'--jobs' => 2,
	'--dir' => "$tempdir/work");

sub verify
{
	my (@opts) = @_;
	return run_pgcrane('verify', '--source' => $src->connstr('pagila'),
		'--target' => $dst->connstr('pagila'), @opts);
}

($rc, $out, $err) = verify('--verbose', '--verbose');
is($rc, 0, 'after grants and revokes, partition keys, an invalid index: OK')
  or diag($out . $err);
like($out, qr/^verify: OK \(\d+ tables, \d+ rows\)$/m, 'says OK');
like(
	$err,
	qr/index "public\.actor_dup" is invalid on the source and not compared/,
	'the invalid index is named at debug level');

# Plant on the target, verify, undo.
sub plant_and_verify
{
	my ($name, $plant, $undo, $expected, %args) = @_;

	$dst->safe_psql('pagila', $plant);
	my ($rc, $out, $err) = verify();
	is($rc, 1, "$name: verify exits 1") or diag($err);
	foreach my $line (@$expected)
	{
		like($out, qr/^\Q$line\E$/m, "$name: reports \"$line\"")
		  or diag($out);
	}
	my $count = $args{count} // scalar @$expected;
	my $word = $count == 1 ? 'difference' : 'differences';
	like($out, qr/^verify: $count $word\n\z/m,
		"$name: last line counts $count $word")
	  or diag($out);
	$dst->safe_psql('pagila', $undo);
	return;
}

my $owner = $dst->safe_psql('pagila', 'SELECT current_user');

plant_and_verify(
	'database setting',
	"ALTER DATABASE pagila SET work_mem = '8MB'",
	'ALTER DATABASE pagila RESET work_mem',
	['differs: database "pagila" (settings none vs work_mem=8MB)']);
plant_and_verify(
	'role setting in the database',
	"ALTER ROLE reader IN DATABASE pagila SET statement_timeout = '5s'",
	'ALTER ROLE reader IN DATABASE pagila RESET statement_timeout',
	[
		'differs: database "pagila" '
		  . '(role settings none vs reader statement_timeout=5s)'
	]);
plant_and_verify(
	'database privilege',
	'REVOKE CONNECT ON DATABASE pagila FROM PUBLIC',
	'GRANT CONNECT ON DATABASE pagila TO PUBLIC',
	[
		"differs: database \"pagila\" (acl none vs {=T/$owner,$owner=CTc/$owner})"
	]);
plant_and_verify(
	'connection limit',
	'ALTER DATABASE pagila CONNECTION LIMIT 7',
	'ALTER DATABASE pagila CONNECTION LIMIT -1',
	['differs: database "pagila" (connection limit -1 vs 7)']);
plant_and_verify(
	'database comment',
	"COMMENT ON DATABASE pagila IS 'rentals'",
	'COMMENT ON DATABASE pagila IS NULL',
	['differs: database "pagila" (comment none vs rentals)']);
plant_and_verify(
	'column order',
	'DROP TABLE ord; CREATE TABLE ord (b text, a int)',
	'DROP TABLE ord; CREATE TABLE ord (a int, b text)',
	[
		'differs: column "public.ord.a" (position 1 vs 2)',
		'differs: column "public.ord.b" (position 2 vs 1)'
	]);
plant_and_verify(
	'column statistics target',
	'ALTER TABLE film ALTER COLUMN title SET STATISTICS 500',
	'ALTER TABLE film ALTER COLUMN title SET STATISTICS -1',
	['differs: column "public.film.title" (statistics target none vs 500)']);
plant_and_verify(
	'index statistics target',
	'ALTER INDEX film_lower_title ALTER COLUMN 1 SET STATISTICS 300',
	'ALTER INDEX film_lower_title ALTER COLUMN 1 SET STATISTICS -1',
	[
		'differs: index "public.film_lower_title" '
		  . '(statistics target none vs column 1 300)'
	]);
plant_and_verify(
	'materialized view contents',
	'UPDATE tally SET v = v + 1 WHERE k = 3; '
	  . 'REFRESH MATERIALIZED VIEW tally_sum; '
	  . 'UPDATE tally SET v = v - 1 WHERE k = 3',
	'REFRESH MATERIALIZED VIEW tally_sum',
	['checksum differs: materialized view "public.tally_sum" (1 rows)']);
plant_and_verify(
	'materialized view populated on one side',
	'REFRESH MATERIALIZED VIEW tally_later',
	'REFRESH MATERIALIZED VIEW tally_later WITH NO DATA',
	[
		'differs: materialized view "public.tally_later" '
		  . '(populated not populated vs none)'
	]);
plant_and_verify(
	'foreign key of a partitioned table',
	'ALTER TABLE visits DROP CONSTRAINT visits_zone_zone_id_fkey',
	'ALTER TABLE visits ADD FOREIGN KEY (zone, zone_id) REFERENCES zones '
	  . 'ON DELETE CASCADE',
	[
		'missing on target: constraint "public.visits.visits_zone_zone_id_fkey"',
		'missing on target: constraint "public.visits_2024.FOREIGN KEY '
		  . '(zone, zone_id) REFERENCES public.zones(zone, id) ON DELETE CASCADE"',
		'missing on target: constraint "public.visits.FOREIGN KEY '
		  . '(zone, zone_id) REFERENCES public.zones_1(zone, id) ON DELETE CASCADE"'
	],
	count => 5);

($rc, $out, $err) = verify();
is($rc, 0, 'every plant undone: OK again') or diag($out . $err);

# The other sample databases after the same grant and revoke cycles, on
# every object kind of each: verify says OK.
foreach my $db ('chinook', 'netflix')
{
	load_dataset($src, $db, $db);
	$src->safe_psql($db, <<"EOSQL");
DO \$\$
DECLARE s name;
BEGIN
  FOR s IN SELECT nspname FROM pg_namespace
           WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
  LOOP
    EXECUTE format('GRANT SELECT, UPDATE ON ALL TABLES IN SCHEMA %I TO reader', s);
    EXECUTE format('REVOKE SELECT, UPDATE ON ALL TABLES IN SCHEMA %I FROM reader', s);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO reader', s);
    EXECUTE format('REVOKE USAGE ON ALL SEQUENCES IN SCHEMA %I FROM reader', s);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO reader', s);
    EXECUTE format('REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA %I FROM reader', s);
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO reader', s);
    EXECUTE format('REVOKE USAGE ON SCHEMA %I FROM reader', s);
  END LOOP;
END
\$\$;
GRANT CONNECT, TEMPORARY ON DATABASE $db TO reader;
REVOKE CONNECT, TEMPORARY ON DATABASE $db FROM reader;
EOSQL
	clone_ok(
		"$db: clone succeeds",
		'--source' => $src->connstr($db),
		'--target' => $dst->connstr($db),
		'--jobs' => 2,
		'--dir' => "$tempdir/work-$db");
	($rc, $out, $err) = run_pgcrane('verify', '--source' => $src->connstr($db),
		'--target' => $dst->connstr($db));
	is($rc, 0, "$db: after grants and revokes: OK") or diag($out . $err);
	like($out, qr/^verify: OK \(\d+ tables, \d+ rows\)$/m, "$db: says OK");
}

done_testing();
