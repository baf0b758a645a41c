
# Copyright (c) pgcrane contributors

# Parallel apply (--apply-jobs).  One follow lives through several runs
# with different numbers of target sessions, under pgbench and under a
# workload made to trip an order-breaking apply: the same rows updated by
# many transactions, a key inserted and deleted by consecutive ones, a
# unique index besides the primary key whose values rows swap, a table
# with REPLICA IDENTITY FULL and no key, a TRUNCATE in the middle and a
# transaction larger than a batch.  On the way:
#
#  - clone --follow --apply-jobs 4, then follow --apply-jobs 2 killed with
#    SIGKILL in the middle of a backlog, and the target restarted in the
#    middle of another: the slot never passes the target's position (the
#    greatest progress of the lanes), and nothing is applied twice
#    (pgbench_history has no key and only grows);
#  - a unique index created on the target only, after the follow read the
#    table, so that the keys cannot know it: a later lane then blocks or
#    fails an earlier one, and the follow goes on serially, correct;
#  - a run with --apply-jobs 1 resumes from the lanes of the runs before;
#  - after the cutover every table is the same on both sides, pgcrane
#    verify agrees, and cleanup leaves no origin of any lane.

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
my ($rc, $out, $err);
my $follower;
my $run = 0;
my $marker = 0;
my $next = 0;
my $followlog = '';

$src->safe_psql('postgres', 'CREATE DATABASE par');
command_ok([ 'pgbench', '-i', '-s', '2', '-q', $src->connstr('par') ],
	'pgbench initializes the source');
$src->safe_psql('par', <<'EOSQL');
ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
CREATE TABLE marker (id int PRIMARY KEY);
CREATE TABLE hot (id int PRIMARY KEY, n int NOT NULL);
INSERT INTO hot SELECT g, 0 FROM generate_series(1, 5) g;
CREATE TABLE kv (k int PRIMARY KEY, v text);
CREATE TABLE uq (id int PRIMARY KEY, u int NOT NULL UNIQUE);
INSERT INTO uq VALUES (1, 1), (2, 2);
CREATE TABLE full_t (a int, b text);
ALTER TABLE full_t REPLICA IDENTITY FULL;
CREATE TABLE tr (id int PRIMARY KEY);
CREATE TABLE big (id int PRIMARY KEY, pad text);
CREATE TABLE dl (id int PRIMARY KEY, v int);
CREATE TABLE nopk (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO dl SELECT g, NULL FROM generate_series(1, 2001) g;
EOSQL

sub pgbench
{
	my ($name, @args) = @_;
	return start_background($tempdir, $name, 'pgbench', '-n', '-c', '4', '-j', '2',
		@args, $src->connstr('par'));
}

# $n rounds of small transactions that collide on rows and unique values.
sub adversarial
{
	my ($n) = @_;
	my $first = $next + 1;
	$next += $n;
	my $half = $first + int($n / 2);
	$src->safe_psql('par', <<"EOSQL");
DO \$\$
BEGIN
  FOR i IN $first..$next LOOP
    UPDATE hot SET n = n + 1 WHERE id = 1 + i % 5;
    COMMIT;
    INSERT INTO kv VALUES (i % 7, 'v' || i) ON CONFLICT (k) DO UPDATE SET v = excluded.v;
    COMMIT;
    DELETE FROM kv WHERE k = (i + 3) % 7;
    COMMIT;
    UPDATE uq SET u = (SELECT v FROM generate_series(1, 3) v
                       WHERE v NOT IN (SELECT u FROM uq) LIMIT 1)
      WHERE id = 1 + i % 2;
    COMMIT;
    INSERT INTO full_t VALUES (i % 3, 'f' || i);
    COMMIT;
    IF i % 4 = 0 THEN
      DELETE FROM full_t WHERE ctid = (SELECT ctid FROM full_t WHERE a = i % 3 LIMIT 1);
      COMMIT;
    END IF;
    IF i % 3 = 0 THEN
      UPDATE full_t SET b = b || '+' WHERE a = (i + 1) % 3;
      COMMIT;
    END IF;
    INSERT INTO tr VALUES (i);
    COMMIT;
    INSERT INTO nopk VALUES (i, 0);
    COMMIT;
    UPDATE nopk SET v = v + 1 WHERE id = i;
    COMMIT;
    DELETE FROM nopk WHERE id = i - 3;
    COMMIT;
    IF i = $half THEN
      TRUNCATE tr;
      COMMIT;
    END IF;
  END LOOP;
END \$\$;
EOSQL
	return;
}

# A transaction larger than a batch, then one that updates part of it.
sub large
{
	my ($round) = @_;
	my $lo = $round * 20000 + 1;
	my $hi = $lo + 11999;
	$src->safe_psql('par',
		"INSERT INTO big SELECT g, 'pad ' || g FROM generate_series($lo, $hi) g");
	$src->safe_psql('par',
		"UPDATE big SET pad = pad || '+' WHERE id BETWEEN $lo AND $hi AND id % 10 = 0");
	return;
}

# Write a marker on the source and wait until the target has it.
sub caught_up
{
	my ($label) = @_;
	$marker++;
	$src->safe_psql('par', "INSERT INTO marker VALUES ($marker)");
	ok($dst->poll_query_until('par', "SELECT count(*) = 1 FROM marker WHERE id = $marker"),
		"$label: the target catches up")
	  or diag(slurp_if_exists("$tempdir/follow$run.err"));
	return;
}

sub start_follow
{
	my (@opts) = @_;
	$run++;
	$follower = start_background($tempdir, "follow$run", pgcrane_path(), 'follow',
		'--dir', $dir, @opts);
	ok(wait_state_kv($dir, 'follow.pid', qr/^$follower$/, $timeout),
		"run $run: the follower starts (@opts)");
	return;
}

# Stop the follower with SIGINT (it exits 130).
sub stop_follow
{
	my ($label) = @_;
	kill 'INT', $follower;
	is(wait_background($follower, 4 * $timeout), 130, "$label: the follower stops on SIGINT")
	  or diag(slurp_if_exists("$tempdir/follow$run.err"));
	return;
}

# The source was told to forget nothing the target has not committed.
sub invariant
{
	my ($label) = @_;
	my $slot = state_kv($dir, 'follow.slot');
	my $origin = state_kv($dir, 'follow.origin');
	my $flush = '';
	for (my $i = 0; $i < $timeout * 10 && $flush eq ''; $i++)
	{
		$flush = $src->safe_psql('postgres',
			"SELECT confirmed_flush_lsn FROM pg_replication_slots"
			  . " WHERE slot_name = '$slot' AND NOT active");
		usleep(100_000) if $flush eq '';
	}
	my $remote = follow_origin_lsn($dst, 'par', $origin);
	is($src->safe_psql('postgres', "SELECT '$flush'::pg_lsn <= '$remote'::pg_lsn"),
		't', "$label: the slot confirms $flush, no more than the target's $remote");
	return;
}

sub wait_transactions_over
{
	my ($n) = @_;
	for (my $i = 0; $i < $timeout * 10; $i++)
	{
		return 1 if (state_kv($dir, 'follow.transactions') || 0) > $n;
		usleep(100_000);
	}
	return 0;
}

sub lane_origins
{
	my $origin = state_kv($dir, 'follow.origin');
	return $dst->safe_psql('par',
		"SELECT count(*) FROM pg_replication_origin WHERE roname ~ ('^' || '$origin' || '_l[0-9]+\$')");
}

# ---------- options ----------

($rc, $out, $err) = run_pgcrane('follow', '--dir', $dir, '--apply-jobs', '0');
isnt($rc, 0, '--apply-jobs 0 is refused');
like($err, qr/invalid value "0" for option --apply-jobs/, 'and named');
($rc, $out, $err) = run_pgcrane('clone', '--source' => $src->connstr('par'),
	'--target' => $dst->connstr('par'), '--dir', $dir, '--apply-jobs', '2');
isnt($rc, 0, 'clone --apply-jobs without --follow is refused');
like($err, qr/option --apply-jobs needs --follow/, 'and says why');

# ---------- clone --follow --apply-jobs 4 ----------

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--apply-jobs', '4', '--source' => $src->connstr('par'),
	'--target' => $dst->connstr('par'), '--dir' => $dir, '--jobs' => 2);
$follower = $clone;
ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
	'clone --follow --apply-jobs 4 streams')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is(lane_origins(), '3', 'four lanes: three origins besides the follow\'s');
# Without a unique index on the target, an insert meets no other row, but
# the changes of its row that come later must still wait for it.
$dst->safe_psql('par', 'ALTER TABLE nopk DROP CONSTRAINT nopk_pkey');

my $bench = pgbench('bench1', '-T', '6');
adversarial(150);
large(0);
is(wait_background($bench, 4 * $timeout), 0, 'pgbench runs against the source');
caught_up('four lanes, live');
kill 'INT', $clone;
is(wait_background($clone, 4 * $timeout), 130, 'clone --follow stops on SIGINT');
invariant('four lanes, stopped');
$followlog .= slurp_if_exists("$tempdir/clone.err");

# ---------- a backlog, two lanes, SIGKILL in the middle ----------

$bench = pgbench('bench2', '-T', '5');
adversarial(150);
large(1);
is(wait_background($bench, 4 * $timeout), 0, 'pgbench writes a backlog');
my $before = state_kv($dir, 'follow.transactions') || 0;
start_follow('--apply-jobs', '2');
ok(wait_transactions_over($before + 500), 'two lanes: the backlog is being applied');
kill 'KILL', $follower;
wait_background($follower, $timeout);
note('killed after ' . (state_kv($dir, 'follow.transactions') - $before)
	  . ' transactions of the backlog');
invariant('two lanes, after SIGKILL');
$followlog .= slurp_if_exists("$tempdir/follow$run.err");
start_follow('--apply-jobs', '2');
caught_up('two lanes, after SIGKILL');

# ---------- a backlog, the target restarts in the middle ----------

stop_follow('two lanes');
$bench = pgbench('bench3', '-T', '5');
adversarial(100);
is(wait_background($bench, 4 * $timeout), 0, 'pgbench writes another backlog');
$before = state_kv($dir, 'follow.transactions') || 0;
start_follow('--apply-jobs', '2');
ok(wait_transactions_over($before + 500), 'two lanes: the second backlog is being applied');
$dst->restart;
caught_up('two lanes, after the target restarted');
like(slurp_if_exists("$tempdir/follow$run.err"), qr/reconnecting in \d+ s/,
	'the follower rode out the target restart');

# ---------- a unique index the keys cannot know ----------

# The follower has read table dl; the index comes later, on the target
# only.  Each even row holds a value first; each round then moves one
# from an even row to the next odd one through two transactions: in
# source order the first one frees it before the second takes it,
# applied out of order the second meets it still taken.  (Two changes of
# one row in one target transaction would become one, compact.h, so the
# value is taken before the rounds, not in them.)
$src->safe_psql('par', 'UPDATE dl SET v = NULL WHERE id = 1');
$src->safe_psql('par', 'UPDATE dl SET v = id / 2 WHERE id % 2 = 0');
caught_up('dl is known');
$dst->safe_psql('par', 'CREATE UNIQUE INDEX dl_v ON dl (v)');
# Paused meanwhile, the same session then meets them as a backlog, in
# full batches of 64 transactions: each batch ends with the first of a
# pair and the next one begins with the second.
kill 'STOP', $follower;
$src->safe_psql('par', <<'EOSQL');
DO $$
BEGIN
  FOR k IN 1..1000 LOOP
    UPDATE dl SET v = NULL WHERE id = 2 * k;
    COMMIT;
    UPDATE dl SET v = k WHERE id = 2 * k + 1;
    COMMIT;
  END LOOP;
END $$;
EOSQL
kill 'CONT', $follower;
caught_up('dl moved its values');
my $log = slurp_if_exists("$tempdir/follow$run.err");
# Either a later lane blocks or fails an earlier one, or rows one lane
# holds meet each other (compact.h): both go on change by change.
like($log,
	qr/parallel apply: .*; applying serially up to source commit|changes applied together met a unique constraint of the target; applying them one by one/,
	'a later lane that blocks or fails an earlier one makes the follow go on serially');
note(join("\n", $log =~ /^.*(?:parallel apply: |applied together).*$/mg));
unlike($log, qr/^error:/m, 'and no error is shown');
is($dst->safe_psql('par', 'SELECT count(*) FROM dl WHERE v IS NOT NULL'), '1000',
	'dl holds every value once');
stop_follow('after the fallback');
$followlog .= $log;
$dst->safe_psql('par', 'DROP INDEX dl_v');

# ---------- one lane, resuming from the lanes before ----------

start_follow('--apply-jobs', '1');
adversarial(50);
caught_up('one lane');

# ---------- cutover, verify, cleanup ----------

$dst->safe_psql('par', 'ALTER TABLE nopk ADD PRIMARY KEY (id)');
($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($err);
is(wait_background($follower, 4 * $timeout), 0, 'the follower ends after the cutover')
  or diag(slurp_if_exists("$tempdir/follow$run.err"));
tables_equal($src, 'par', $dst, 'par');
is(state_kv($dir, 'follow.missing_rows'), '0', 'every update and delete found its row');
($rc, $out, $err) = run_pgcrane('verify', '--source' => $src->connstr('par'),
	'--target' => $dst->connstr('par'));
is($rc, 0, 'pgcrane verify finds the databases equal') or diag($err);

($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
is($rc, 0, 'cleanup succeeds') or diag($err);
is($dst->safe_psql('par', 'SELECT count(*) FROM pg_replication_origin'), '0',
	'cleanup leaves no origin of any lane on the target');

note("follow:\n" . $followlog . slurp_if_exists("$tempdir/follow$run.err"));

done_testing();
