
# Copyright (c) pgcrane contributors

# With --ddl=stop, schema changes during follow stop it at the transaction
# that needs the change, with every transaction before it committed on the
# target, and "pgcrane follow" goes on from that transaction once the
# target matches:
#  (a) a backlog of small transactions, row 101, ADD COLUMN, a transaction
#      writing another table and then row 102: the follow stops with rows
#      1..101 applied and nothing of the failing transaction; the slot
#      never confirms more than the target's origin holds; after the same
#      ADD COLUMN on the target everything after it is applied;
#  (b) DROP COLUMN v + ADD COLUMN v bigint (was text): after the same
#      change on the target the follow does not stop at a transaction
#      from before the change (they were committed before the stop);
#  (c) a column added on the target first (nullable, as a subscriber
#      allows), then on the source: the follow never stops;
#  (c') a column dropped on the source stays on the target, with a
#      warning, and the follow goes on;
#  (d) a column only the target has, NOT NULL without a default: the
#      follow stops, and goes on once the target can take the rows.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $dir = "$tempdir/work";
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $follower;
my $log;

sub start_follow
{
	my ($name) = @_;
	$log = "$tempdir/$name.err";
	return start_background($tempdir, $name, pgcrane_path(), 'follow', '--dir', $dir,
		'--ddl=stop');
}

# Run SQL on the source, then wait until the target has the marker row
# added after it.
my $mark = 0;
sub source_then_wait
{
	my ($sql, $what) = @_;
	$mark++;
	$src->safe_psql('ddl', $sql) if $sql ne '';
	$src->safe_psql('ddl', "INSERT INTO marker VALUES ($mark)");
	for (my $i = 0; $i < $timeout * 5; $i++)
	{
		if ($dst->safe_psql('ddl', "SELECT count(*) FROM marker WHERE id = $mark") eq '1')
		{
			pass("the target received $what");
			return;
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
}

# The slot's confirmed_flush_lsn never passes the origin's remote_lsn on
# the target: the source forgets nothing the target has not committed.
sub positions_ok
{
	my ($when) = @_;
	my $slot = state_kv($dir, 'follow.slot');
	my $origin = state_kv($dir, 'follow.origin');
	my $flush = $src->safe_psql('ddl',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'");
	my $remote = follow_origin_lsn($dst, 'ddl', $origin);
	my $ok = $src->safe_psql('ddl', "SELECT '$flush'::pg_lsn <= '$remote'::pg_lsn");
	is($ok, 't', "$when: the slot confirms $flush, no more than the origin's $remote");
}

# ---------- the source ----------

$src->safe_psql('postgres', 'CREATE DATABASE ddl');
$src->safe_psql('ddl', <<'EOSQL');
CREATE TABLE marker (id int PRIMARY KEY);
CREATE TABLE a_t (id int PRIMARY KEY, v text);
CREATE TABLE other (id int PRIMARY KEY);
CREATE TABLE b_t (id int PRIMARY KEY, v text);
CREATE TABLE c_t (id int PRIMARY KEY, v text);
CREATE TABLE e_t (id int PRIMARY KEY, v text, gone text);
INSERT INTO b_t VALUES (1, 'before');
INSERT INTO e_t VALUES (1, 'before', 'g');
EOSQL

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('ddl'),
	'--target' => $dst->connstr('ddl'),
	'--dir' => $dir, '--ddl=stop');
$follower = $clone;
$log = "$tempdir/clone.err";
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'the changes are being applied')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is(state_kv($dir, 'follow.ddl'), 'stop', 'the clone records --ddl=stop');

# ---------- (c) a column added on the target first ----------

$dst->safe_psql('ddl', 'ALTER TABLE c_t ADD COLUMN extra text');
source_then_wait("INSERT INTO c_t VALUES (1, 'before')",
	'a change to a table with an extra nullable column on the target');
source_then_wait(<<'EOSQL', 'changes after the source added the same column');
ALTER TABLE c_t ADD COLUMN extra text;
INSERT INTO c_t VALUES (2, 'after', 'extra value');
UPDATE c_t SET extra = 'set' WHERE id = 1;
EOSQL
ok(!defined wait_background($follower, 0), 'the follow did not stop');

# A column dropped on the source stays on the target, with a warning.
source_then_wait("UPDATE e_t SET v = 'known' WHERE id = 1", 'a change before the column is dropped');
source_then_wait(<<'EOSQL', 'changes after a column was dropped on the source');
ALTER TABLE e_t DROP COLUMN gone;
INSERT INTO e_t VALUES (2, 'after');
UPDATE e_t SET v = 'changed' WHERE id = 1;
EOSQL
ok(!defined wait_background($follower, 0), 'the follow did not stop at the dropped column');
like(slurp_if_exists("$tempdir/clone.err"),
	qr/warning: column "gone" of table "public\.e_t" is on the target only/,
	'the follow warns that the column is on the target only');
is($dst->safe_psql('ddl', "SELECT string_agg(id || ':' || v || ':' || coalesce(gone, '-'), ',' ORDER BY id) FROM e_t"),
	'1:changed:g,2:after:-', 'the rows keep the value of the column on the target');
$dst->safe_psql('ddl', 'ALTER TABLE e_t DROP COLUMN gone');

ok(kill('INT', $follower), 'the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, 'the follow stops');

# ---------- (a) a backlog, then a schema change ----------

# One transaction per row: many small transactions back to back, which
# the apply groups into few target transactions.
my $backlog = join('', map { "INSERT INTO a_t VALUES ($_, 'row $_');\n" } 1 .. 100);
$src->safe_psql('ddl', $backlog);
$src->safe_psql('ddl', <<'EOSQL');
INSERT INTO a_t VALUES (101, 'row 101');
ALTER TABLE a_t ADD COLUMN extra int;
BEGIN;
INSERT INTO other VALUES (1);
INSERT INTO a_t VALUES (102, 'row 102', 102);
COMMIT;
INSERT INTO a_t VALUES (103, 'row 103', 103);
EOSQL

$follower = start_follow('follow1');
is(wait_background($follower, 4 * $timeout), 2, '(a) the follow stops at the schema change');
my $err = slurp_if_exists("$tempdir/follow1.err");
like($err, qr/error: column "extra" of table "public\.a_t" does not exist on the target/,
	'(a) the message names the table and the column');
like($err, qr/detail: The source sends it with type integer\./,
	'(a) the message says what the source sends');
like($err, qr/detail: The target has every change the source committed up to \d+\/[0-9A-F]+; nothing after it is applied/,
	'(a) the message says how far the target is');
like($err, qr/hint: Apply the same schema change on the target, then run: pgcrane follow --dir /,
	'(a) the message says what to do');
is($dst->safe_psql('ddl', 'SELECT count(*), max(id) FROM a_t'), '101|101',
	'(a) every transaction before the schema change is committed on the target');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM other'), '0',
	'(a) nothing of the failing transaction is applied');
positions_ok('(a) after the stop');

# Stopping again at the same place changes nothing.
$follower = start_follow('follow2');
is(wait_background($follower, 4 * $timeout), 2, '(a) the follow stops there again');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM a_t'), '101', '(a) still rows 1..101');
positions_ok('(a) after the second stop');

# ---------- (b) a column whose type changed ----------

# While the follow is stopped: transactions before and after the change.
$src->safe_psql('ddl', <<'EOSQL');
INSERT INTO b_t VALUES (2, 'old type');
UPDATE b_t SET v = 'old type too' WHERE id = 1;
ALTER TABLE b_t DROP COLUMN v;
ALTER TABLE b_t ADD COLUMN v bigint;
INSERT INTO b_t VALUES (3, 3000000000);
UPDATE b_t SET v = 1 WHERE id = 1;
EOSQL

$dst->safe_psql('ddl', 'ALTER TABLE a_t ADD COLUMN extra int');
$follower = start_follow('follow3');
is(wait_background($follower, 4 * $timeout), 2, '(b) the follow stops at the type change');
$err = slurp_if_exists("$tempdir/follow3.err");
like($err, qr/error: column "v" of table "public\.b_t" has type text on the target but type bigint on the source/,
	'(b) the message names the column and both types');
is($dst->safe_psql('ddl', 'SELECT count(*), max(id) FROM a_t'), '103|103',
	'(a) after the same change on the target, every row is applied');
is($dst->safe_psql('ddl', 'SELECT count(*) FROM other'), '1',
	'(a) the transaction that failed before is applied whole');
is($dst->safe_psql('ddl', "SELECT string_agg(id || ':' || v, ',' ORDER BY id) FROM b_t"),
	'1:old type too,2:old type', '(b) the transactions before the change are applied');
positions_ok('(b) after the stop');

$dst->safe_psql('ddl', 'ALTER TABLE b_t DROP COLUMN v; ALTER TABLE b_t ADD COLUMN v bigint');
$follower = start_follow('follow4');
source_then_wait("INSERT INTO b_t VALUES (4, 4)", '(b) the changes after the type change');
ok(!defined wait_background($follower, 0), '(b) the follow goes on');

tables_equal($src, 'ddl', $dst, 'ddl');
ok(kill('INT', $follower), 'the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, 'the follow stops');
positions_ok('after SIGINT');

# ---------- (d) a column only the target has, NOT NULL without default ----------

$dst->safe_psql('ddl', <<'EOSQL');
ALTER TABLE c_t ADD COLUMN must int NOT NULL DEFAULT 0;
ALTER TABLE c_t ALTER must DROP DEFAULT;
EOSQL
$src->safe_psql('ddl', "INSERT INTO c_t VALUES (3, 'needs must', NULL)");
$follower = start_follow('follow5');
is(wait_background($follower, 4 * $timeout), 2,
	'(d) the follow stops at a target column it cannot fill');
like(slurp_if_exists("$tempdir/follow5.err"),
	qr/error: column "must" of table "public\.c_t" is NOT NULL without a default on the target, and the source does not have it/,
	'(d) the message names the column');
$dst->safe_psql('ddl', 'ALTER TABLE c_t DROP COLUMN must');
$follower = start_follow('follow6');
source_then_wait('', '(d) the change once the target can take it');
tables_equal($src, 'ddl', $dst, 'ddl');
ok(kill('INT', $follower), 'the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, 'the follow stops');
positions_ok('at the end');

note("follow:\n" . join('', map { slurp_if_exists("$tempdir/follow$_.err") } 1 .. 6));
done_testing();
