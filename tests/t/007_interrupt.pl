
# Copyright (c) pgcrane contributors

# Stopping a clone while it waits on the source: another session holds an
# ACCESS EXCLUSIVE lock on a source table, so the clone (its schema dump or
# its COPY) waits for it, and then
#  - Ctrl-C (SIGINT to pgcrane's process group), or
#  - SIGTERM to the pgcrane process alone, as a service manager sends it,
# must end pgcrane with exit code 130 within a minute, and take down what
# was waiting on the lock for it (a pg_dump child, a COPY) instead of
# leaving it on the source.  Only the snapshot holder may stay, for a
# resume.  Once the lock is gone, "clone --resume" finishes the copy, the
# target equals the source, and nothing of the clone is left on the source.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE busy');
$src->safe_psql('busy', <<'EOSQL');
CREATE TABLE free_table (id int PRIMARY KEY, v text);
INSERT INTO free_table SELECT i, 'v' || i FROM generate_series(1, 1000) AS i;
CREATE TABLE locked_table (id int PRIMARY KEY, v text);
INSERT INTO locked_table SELECT i, 'v' || i FROM generate_series(1, 1000) AS i;
CREATE SEQUENCE tickets;
SELECT setval('tickets', 99);
EOSQL

# Run $sql until it returns $expected or $seconds pass; the last result.
sub wait_for_value
{
	my ($node, $dbname, $sql, $expected, $seconds) = @_;
	my $value;
	my $deadline = time() + $seconds;
	for (;;)
	{
		$value = $node->safe_psql($dbname, $sql);
		last if $value eq $expected || time() > $deadline;
		usleep(100_000);
	}
	return $value;
}

my $waiting_sql = q{SELECT count(*) FROM pg_stat_activity
	WHERE datname = 'busy' AND wait_event_type = 'Lock'};

# Every session on the source but the test's own and the lock holder.
my $sessions_sql = q{SELECT count(*) FROM pg_stat_activity
	WHERE datname = 'busy' AND backend_type = 'client backend'
	  AND pid <> pg_backend_pid() AND application_name <> 'lock_holder'};

foreach my $signal ('INT', 'TERM')
{
	my $db = lc "busy_$signal";
	my $dir = "$tempdir/work-$signal";

	my $locker = $src->background_psql('busy');
	$locker->query_safe(
		q{SET application_name = 'lock_holder';
		  BEGIN;
		  LOCK TABLE locked_table IN ACCESS EXCLUSIVE MODE;});

	my $run = start_pgcrane(
		'clone',
		'--source' => $src->connstr('busy'),
		'--target' => $dst->connstr($db),
		'--dir' => $dir);

	# Wait until a session of the clone is blocked by the lock.
	my $waiting = 0;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (time() < $deadline)
	{
		$waiting = $src->safe_psql('busy', $waiting_sql);
		last if $waiting > 0;
		my ($rc) = finish_pgcrane($run, 0);
		last if defined $rc;
		usleep(100_000);
	}
	ok($waiting > 0, "SIG$signal: the clone waits for the locked table");

	if ($signal eq 'INT')
	{
		kill 'INT', -$run->{pid};    # Ctrl-C: the whole process group
	}
	else
	{
		kill 'TERM', $run->{pid};
	}

	my ($rc, $out, $err) = finish_pgcrane($run, 60);
	if (!defined $rc)
	{
		fail("SIG$signal: pgcrane exits within a minute");
		diag("pgcrane is still running; its stderr so far:\n$err");
		kill 'KILL', -$run->{pid};
		finish_pgcrane($run, 10);
	}
	else
	{
		pass("SIG$signal: pgcrane exits within a minute");
		is($rc, 130, "SIG$signal: exit code 130") or diag("stderr was:\n$err");
	}

	is(wait_for_value($src, 'busy', $waiting_sql, '0', 30),
		'0', "SIG$signal: nothing of the clone waits for the lock any more");

	$locker->query_safe('COMMIT');
	$locker->quit;

	($rc, $out, $err) = run_pgcrane('clone', '--resume', '--dir' => $dir);
	is($rc, 0, "SIG$signal: clone --resume finishes the copy")
	  or diag("stderr was:\n$err");
	databases_equal($src, 'busy', $dst, $db);

	is(wait_for_value($src, 'busy', $sessions_sql, '0', 30),
		'0', "SIG$signal: no session of the clone is left on the source");
	is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
		'0', "SIG$signal: no replication slot is left on the source");
}

done_testing();
