
# Copyright (c) pgcrane contributors

# Schema changes during follow, with --ddl=apply (the default), while
# pgbench writes to the tables they change:
#  (a) ADD COLUMN with a constant default and NOT NULL, and with now()
#      (the rows it was added to keep the source's value), DROP COLUMN,
#      ALTER COLUMN TYPE int -> bigint and text -> varchar(n), RENAME
#      COLUMN: applied on the target before the changes that need them;
#  (b) a new table with a serial key, a unique and a foreign key, rows
#      inserted in the transaction that creates it and in later ones;
#      a new sequence, created at the latest at the cutover;
#  (c) kill -9 of the follow right after a schema change reached the
#      target: the next follow goes on, the change is not applied twice;
#  (d) the source's catalog moved on past the stream (a column added, a
#      row, the column dropped, all while the follow is stopped): the
#      follow stops and names the table;
#  (e) a schema change in the middle of a backlog, after a transaction
#      that wrote to another table first: applied between them;
#  (f) a column added with a default evaluated for each row to a table
#      with rows: the follow stops naming it, and goes on once it is
#      added on the target by hand;
#  (g) an index and a view made on the source: the cutover names them,
#      with the statement that fixes the target;
# then a cutover, and pgcrane verify finds the target equal.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes qw(usleep);

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $dir = "$tempdir/work";
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $follower;
my $log;

sub start_follow
{
	my ($name, @opts) = @_;
	$log = "$tempdir/$name.err";
	return start_background($tempdir, $name, pgcrane_path(), 'follow', '--dir', $dir, @opts);
}

# Insert a marker row on the source and wait until the target has it.
my $mark = 0;
sub wait_marker
{
	my ($what) = @_;
	$mark++;
	$src->safe_psql('ddl', "INSERT INTO marker VALUES ($mark)");
	for (my $i = 0; $i < $timeout * 5; $i++)
	{
		if ($dst->safe_psql('ddl', "SELECT count(*) FROM marker WHERE id = $mark") eq '1')
		{
			pass("the target received $what");
			return 1;
		}
		my $rc = wait_background($follower, 0.2);
		if (defined $rc)
		{
			fail("the target received $what");
			diag("the follower ended with exit code $rc:\n" . slurp_if_exists($log));
			BAIL_OUT('the follower ended');
		}
	}
	fail("the target received $what");
	diag(slurp_if_exists($log));
	return 0;
}

sub target_has_column
{
	my ($table, $column) = @_;
	return $dst->safe_psql('ddl', <<"EOSQL") eq 't';
SELECT EXISTS (SELECT 1 FROM pg_attribute
                WHERE attrelid = to_regclass('public.$table')
                  AND attname = '$column' AND NOT attisdropped)
EOSQL
}

# ---------- the source ----------

$src->safe_psql('postgres', 'CREATE DATABASE ddl');
$src->safe_psql('ddl', <<'EOSQL');
CREATE TABLE marker (id int PRIMARY KEY);
CREATE TABLE acc (id int PRIMARY KEY, bal int NOT NULL DEFAULT 0);
INSERT INTO acc SELECT g, 0 FROM generate_series(1, 200) g;
CREATE TABLE hist (id bigserial PRIMARY KEY, aid int NOT NULL, delta int NOT NULL);
CREATE TABLE t_add (id int PRIMARY KEY, v text);
CREATE TABLE t_drop (id int PRIMARY KEY, v text, gone text);
CREATE TABLE t_type (id int PRIMARY KEY, n int, s text);
CREATE TABLE t_ren (id int PRIMARY KEY, old_name text, hits int NOT NULL DEFAULT 0);
CREATE TABLE t_kill (id int PRIMARY KEY, v text);
CREATE TABLE t_moved (id int PRIMARY KEY, v text);
INSERT INTO t_add SELECT g, 'a' || g FROM generate_series(1, 50) g;
INSERT INTO t_drop SELECT g, 'd' || g, 'gone' || g FROM generate_series(1, 50) g;
INSERT INTO t_type SELECT g, g, 's' || g FROM generate_series(1, 50) g;
INSERT INTO t_ren SELECT g, 'r' || g FROM generate_series(1, 50) g;
EOSQL

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('ddl'),
	'--target' => $dst->connstr('ddl'),
	'--dir' => $dir);
$follower = $clone;
$log = "$tempdir/clone.err";
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'the changes are being applied')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is(state_kv($dir, 'follow.ddl'), 'apply', 'the clone records --ddl=apply, the default');

# ---------- (a) and (b) during pgbench ----------

my $script = "$tempdir/writes.sql";
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'EOS';
\set aid random(1, 200)
\set k random(1, 50)
BEGIN;
UPDATE acc SET bal = bal + 1 WHERE id = :aid;
INSERT INTO hist (aid, delta) VALUES (:aid, 1);
UPDATE t_add SET v = v || '.' WHERE id = :k;
UPDATE t_drop SET v = v || '.' WHERE id = :k;
UPDATE t_type SET n = n + 1 WHERE id = :k;
UPDATE t_ren SET hits = hits + 1 WHERE id = :k;
COMMIT;
EOS
close($fh);

my $bench = start_background($tempdir, 'pgbench', 'pgbench', '-n', '-c', '2', '-T', '12',
	'-R', '80', '-f', $script, $src->connstr('ddl'));
sleep(2);
wait_marker('the writes before the schema changes');

$src->safe_psql('ddl', <<'EOSQL');
ALTER TABLE t_add ADD COLUMN c int NOT NULL DEFAULT 7;
ALTER TABLE t_add ADD COLUMN d timestamptz DEFAULT now();
EOSQL
usleep(500_000);
$src->safe_psql('ddl', 'ALTER TABLE t_drop DROP COLUMN gone');
usleep(500_000);
$src->safe_psql('ddl', <<'EOSQL');
ALTER TABLE t_type ALTER COLUMN n TYPE bigint;
ALTER TABLE t_type ALTER COLUMN s TYPE varchar(20);
EOSQL
usleep(500_000);
$src->safe_psql('ddl', 'ALTER TABLE t_ren RENAME COLUMN old_name TO new_name');
usleep(500_000);
$src->safe_psql('ddl', <<'EOSQL');
BEGIN;
CREATE TABLE t_new (id serial PRIMARY KEY, v text UNIQUE, ref int REFERENCES acc (id));
CREATE INDEX t_new_ref ON t_new (ref);
CREATE TABLE t_later (id serial PRIMARY KEY, v text);
INSERT INTO t_new (v, ref) VALUES ('first', 1), ('second', 2);
COMMIT;
CREATE SEQUENCE s_new START 100;
SELECT nextval('s_new');
SELECT nextval('s_new');
EOSQL
usleep(500_000);
$src->safe_psql('ddl', <<'EOSQL');
INSERT INTO t_new (v, ref) VALUES ('later', 3);
INSERT INTO t_later (v) VALUES ('its first row, in a later transaction');
UPDATE t_new SET v = 'first!' WHERE v = 'first';
UPDATE t_add SET c = 8 WHERE id = 1;
UPDATE t_type SET n = 3000000000, s = 'twenty chars at most' WHERE id = 2;
UPDATE t_ren SET new_name = 'renamed' WHERE id = 3;
INSERT INTO t_drop VALUES (51, 'after the drop');
EOSQL

is(wait_background($bench, 4 * $timeout), 0, 'pgbench succeeds')
  or diag(slurp_if_exists("$tempdir/pgbench.err"));
wait_marker('every change after the schema changes');
ok(!defined wait_background($follower, 0), 'the follow did not stop');

my $err = slurp_if_exists($log);
like($err, qr/table "public\.t_add" changed on the source; on the target: ALTER TABLE "public"\."t_add" ADD COLUMN IF NOT EXISTS "c" integer DEFAULT \(/,
	'(a) the added column is applied with the value its rows got');
like($err, qr/on the target: ALTER TABLE "public"\."t_drop" DROP COLUMN IF EXISTS "gone"/,
	'(a) the dropped column is dropped');
like($err, qr/on the target: ALTER TABLE "public"\."t_type" ALTER COLUMN "n" TYPE bigint/,
	'(a) int -> bigint is applied');
like($err, qr/on the target: ALTER TABLE "public"\."t_type" ALTER COLUMN "s" TYPE character varying\(20\)/,
	'(a) text -> varchar(20) is applied');
like($err, qr/on the target: ALTER TABLE "public"\."t_ren" RENAME COLUMN "old_name" TO "new_name"/,
	'(a) the rename is applied as a rename');
like($err, qr/table "public\.t_new" is new on the source; creating it on the target/,
	'(b) the new table is created');
unlike($err, qr/error:/, 'no error');

ok(!target_has_column('t_drop', 'gone'), '(a) the dropped column is gone from the target');
ok(!target_has_column('t_ren', 'old_name'), '(a) the old name is gone');
is($dst->safe_psql('ddl', 'SELECT count(*), count(new_name) FROM t_ren'), '50|50',
	'(a) the renamed column keeps its values');
is($dst->safe_psql('ddl', "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 't_type'::regclass AND attname = 's'"),
	'character varying(20)', '(a) the type has its typmod');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM t_add WHERE c = 7'),
	$src->safe_psql('ddl', 'SELECT count(*) FROM t_add WHERE c = 7'),
	'(a) the rows the column was added to have its default');
is($dst->safe_psql('ddl', 'SELECT string_agg(v || ref, \',\' ORDER BY id) FROM t_new'),
	'first!1,second2,later3', '(b) every row of the new table, from its first');
is($dst->safe_psql('ddl', "SELECT count(*) FROM pg_indexes WHERE tablename = 't_new'"), '3',
	'(b) the new table has its key, unique and index');
is($dst->safe_psql('ddl', "SELECT count(*) FROM pg_constraint WHERE conrelid = 't_new'::regclass AND contype = 'f'"),
	'1', '(b) the new table has its foreign key');
is($dst->safe_psql('ddl', "SELECT to_regclass('public.t_new_id_seq') IS NOT NULL"), 't',
	'(b) the new table\'s sequence is created with it');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM t_later'), '1',
	'(b) a table created before its first row in a later transaction');
is($dst->safe_psql('ddl', "SELECT to_regclass('public.s_new') IS NOT NULL"), 't',
	'(b) the new sequence is created with the next new table');
tables_equal($src, 'ddl', $dst, 'ddl');

# ---------- (c) kill -9 right after a schema change ----------

$src->safe_psql('ddl', <<'EOSQL');
ALTER TABLE t_kill ADD COLUMN k text DEFAULT 'kept';
INSERT INTO t_kill VALUES (1, 'one');
INSERT INTO t_kill VALUES (2, 'two', 'own');
EOSQL
my $seen = 0;
for (my $i = 0; $i < $timeout * 50 && !$seen; $i++)
{
	$seen = target_has_column('t_kill', 'k');
	usleep(20_000) unless $seen;
}
ok($seen, '(c) the column reaches the target');
ok(kill('KILL', $follower), '(c) the follow is killed at once');
wait_background($follower, $timeout);
$src->safe_psql('ddl', "INSERT INTO t_kill VALUES (3, 'three')");
$follower = start_follow('follow_after_kill');
wait_marker('(c) the changes after kill -9');
is($dst->safe_psql('ddl', 'SELECT string_agg(id || v || k, \',\' ORDER BY id) FROM t_kill'),
	'1onekept,2twoown,3threekept', '(c) every row once, with the column');
unlike(slurp_if_exists($log), qr/error:/, '(c) the replay is not an error');

# ---------- (d) the source's catalog moved on ----------

$src->safe_psql('ddl', "INSERT INTO t_moved VALUES (1, 'known')");
wait_marker('(d) a change before');
ok(kill('INT', $follower), '(d) the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, '(d) the follow stops');
$src->safe_psql('ddl', <<'EOSQL');
ALTER TABLE t_moved ADD COLUMN brief int;
INSERT INTO t_moved VALUES (2, 'with brief', 2);
ALTER TABLE t_moved DROP COLUMN brief;
EOSQL
$follower = start_follow('follow_moved');
is(wait_background($follower, 4 * $timeout), 2, '(d) the follow stops');
$err = slurp_if_exists($log);
like($err, qr/error: table "public\.t_moved" changed again on the source after the change the replication stream describes/,
	'(d) the message names the table');
like($err, qr/detail: The stream describes columns \(id, v, brief\); the source's catalog now has \(id, v\)/,
	'(d) the message says what differs');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM t_moved'), '1', '(d) nothing after it is applied');

$dst->safe_psql('ddl', 'ALTER TABLE t_moved ADD COLUMN brief int');
$follower = start_follow('follow_fixed');
wait_marker('(d) the changes once the target is as the stream describes it');
$src->safe_psql('ddl', "INSERT INTO t_moved VALUES (3, 'after')");
wait_marker('(d) a change after the column was dropped');
$dst->safe_psql('ddl', 'ALTER TABLE t_moved DROP COLUMN brief');

# ---------- (e) a schema change inside a backlog ----------

# Many small transactions back to back share target transactions; the
# one after the change wrote to another table first.
ok(kill('INT', $follower), '(e) the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, '(e) the follow stops');
my $backlog = join('', map {
	"BEGIN; UPDATE acc SET bal = bal + 1 WHERE id = $_; "
	  . "UPDATE t_add SET v = v || '+' WHERE id = " . ($_ % 50 + 1) . "; COMMIT;\n"
} 1 .. 100);
$src->safe_psql('ddl', $backlog . "ALTER TABLE t_add ADD COLUMN e int DEFAULT 5;\n" . $backlog);
$follower = start_follow('follow_backlog');
wait_marker('(e) a backlog with a schema change in it');
like(slurp_if_exists($log), qr/on the target: ALTER TABLE "public"\."t_add" ADD COLUMN IF NOT EXISTS "e" integer/,
	'(e) the change is applied');
note("the follow after the backlog:\n" . slurp_if_exists($log));
tables_equal($src, 'ddl', $dst, 'ddl');

# ---------- (f) a default evaluated for each row ----------

$src->safe_psql('ddl', <<'EOSQL');
ALTER TABLE t_kill ADD COLUMN r float8 DEFAULT random();
INSERT INTO t_kill VALUES (4, 'four', 'k4', 0.5);
EOSQL
is(wait_background($follower, 4 * $timeout), 2,
	'(f) the follow stops at a column added with a default evaluated for each row');
$err = slurp_if_exists($log);
like($err, qr/error: column "r" of table "public\.t_kill" was added on the source with a default evaluated for each row/,
	'(f) the message names the column');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM t_kill'), '3', '(f) nothing after it is applied');
# Done by hand as the hint says: the column with the source's values.
$dst->safe_psql('ddl', 'ALTER TABLE t_kill ADD COLUMN r float8 DEFAULT random()');
for my $row (split /\n/, $src->safe_psql('ddl', 'SELECT id, r FROM t_kill WHERE id <= 3'))
{
	my ($id, $r) = split /\|/, $row;
	$dst->safe_psql('ddl', "UPDATE t_kill SET r = '$r' WHERE id = $id");
}
$follower = start_follow('follow_by_hand');
wait_marker('(f) the changes once the column is on the target');
is($dst->safe_psql('ddl', 'SELECT r FROM t_kill WHERE id = 4'), '0.5', '(f) the row after it');

# ---------- (g) other schema changes, reported at the cutover ----------

$src->safe_psql('ddl', <<'EOSQL');
CREATE INDEX acc_bal ON acc (bal);
CREATE VIEW rich AS SELECT id FROM acc WHERE bal > 10;
EOSQL

# ---------- cutover and verify ----------

my ($rc, $out, $stderr) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($stderr);
is(wait_background($follower, $timeout), 0, 'the follow ends after the cutover')
  or diag(slurp_if_exists($log));
tables_equal($src, 'ddl', $dst, 'ddl');
sequences_equal($src, 'ddl', $dst, 'ddl');
like($stderr, qr/schema differences left at the cutover: 2/, '(g) the summary counts the differences');
$err = slurp_if_exists($log);
like($err, qr/warning: schema difference after the follow: missing on target: index "public\.acc_bal"/,
	'(g) the cutover names the index');
like($err, qr/warning: schema difference after the follow: missing on target: view "public\.rich"/,
	'(g) the cutover names the view');
my ($fix) = $err =~ /hint: On the target: (CREATE INDEX acc_bal .*;)$/m;
ok(defined $fix, '(g) with the statement that creates the index') or diag($err);
$dst->safe_psql('ddl', $fix) if defined $fix;
$dst->safe_psql('ddl', 'CREATE VIEW rich AS SELECT id FROM acc WHERE bal > 10');
($rc, $out, $stderr) = run_pgcrane('verify', '--source' => $src->connstr('ddl'),
	'--target' => $dst->connstr('ddl'));
is($rc, 0, 'verify finds the target equal') or diag("$out\n$stderr");
like($out, qr/verify: OK/, 'verify says OK');

note("follow:\n" . slurp_if_exists("$tempdir/clone.err"));
done_testing();
