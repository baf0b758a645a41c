
# Copyright (c) pgcrane contributors

# Resuming an interrupted clone (pgcrane clone --resume).
#
# The source holds pagila plus generated tables large enough that a clone
# takes a few seconds: bank.ledger (about 100 MB, copied in parts with
# --split-tables-larger-than 20MB), bank.events (about 40 MB, partitioned),
# with indexes, foreign keys, sequences, large objects and materialized
# views.
#
#  - A full clone is timed first; the moments at which it was seen in each
#    phase (from the state file) give the windows the kills below aim at.
#  - kill -9 of pgcrane at seeded random moments spread over the clone's
#    duration, each time followed by "clone --resume --dir D": it ends
#    with exit 0, in the same snapshot, stops the snapshot holder, and the
#    target equals the source (schema, rows, sequences, large objects,
#    and pgcrane verify).  Once more with the kill while an index is
#    being built on the target, and the resume at once.
#  - SIGINT to the process group (Ctrl-C) in the middle of the copy:
#    exit 130 with the resume hint, the snapshot holder survives, and the
#    resume completes.
#  - The snapshot lost: pgcrane and its snapshot holder killed; the resume
#    warns that the snapshot is gone, starts over from the schema in a new
#    snapshot and still ends equal.
#  - A second pgcrane on the same work directory is refused (exit 2);
#    SIGTERM stops the first with exit 130; a fresh clone on a directory
#    holding an unfinished clone is refused; --resume with another
#    --target is refused; --resume with the recorded --source and
#    --target given again completes.
#
# No assertion depends on timing: waits have generous limits, and which
# phase each kill landed in is only reported.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $timeout = $PostgreSQL::Test::Utils::timeout_default;
my $tempdir = PostgreSQL::Test::Utils::tempdir();

my $src = new_source_node('source');
my $dst = new_target_node('target');

# The source database.
load_dataset($src, 'shop', 'pagila');
$src->safe_psql('shop', <<'EOSQL');
CREATE SCHEMA bank;
CREATE TABLE bank.accounts (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO bank.accounts SELECT i, 'account ' || i FROM generate_series(1, 5000) AS i;
CREATE TABLE bank.ledger (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id int NOT NULL REFERENCES bank.accounts,
    amount numeric(12,2) NOT NULL,
    booked timestamptz NOT NULL,
    memo text NOT NULL);
INSERT INTO bank.ledger (account_id, amount, booked, memo)
SELECT 1 + i % 5000, (i % 100000) / 100.0,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second',
       md5(i::text) || md5((i * 7)::text)
FROM generate_series(1, 750000) AS i;
CREATE INDEX ledger_account_idx ON bank.ledger (account_id, memo);
CREATE TABLE bank.events (
    id bigint NOT NULL,
    ledger_id bigint NOT NULL REFERENCES bank.ledger,
    kind text NOT NULL,
    payload text NOT NULL,
    PRIMARY KEY (id)) PARTITION BY RANGE (id);
CREATE TABLE bank.events_1 PARTITION OF bank.events FOR VALUES FROM (0) TO (100001);
CREATE TABLE bank.events_2 PARTITION OF bank.events FOR VALUES FROM (100001) TO (200001);
CREATE TABLE bank.events_3 PARTITION OF bank.events FOR VALUES FROM (200001) TO (300001);
CREATE TABLE bank.events_4 PARTITION OF bank.events FOR VALUES FROM (300001) TO (400001);
INSERT INTO bank.events
SELECT i, 1 + (i * 13) % 750000, (ARRAY['open', 'move', 'close'])[1 + i % 3],
       repeat(md5(i::text), 2)
FROM generate_series(1, 400000) AS i;
CREATE INDEX events_ledger_idx ON bank.events (ledger_id);
CREATE SEQUENCE bank.invoice_no START 1000;
SELECT setval('bank.invoice_no', 4242);
CREATE SEQUENCE bank.untouched_seq;
CREATE MATERIALIZED VIEW bank.ledger_by_account AS
    SELECT account_id, count(*) AS n, sum(amount) AS total
    FROM bank.ledger GROUP BY account_id;
CREATE UNIQUE INDEX ON bank.ledger_by_account (account_id);
SELECT count(lo_from_bytea(0, convert_to(repeat(md5(i::text), 200 * i), 'UTF8')))
FROM generate_series(1, 30) AS i;
EOSQL
$src->safe_psql('shop', 'VACUUM ANALYZE');
$src->safe_psql('shop', 'CHECKPOINT');
note('source size: '
	  . $src->safe_psql('shop', q{SELECT pg_size_pretty(pg_database_size('shop'))}));

my @copy_options = ('--jobs' => 2, '--split-tables-larger-than' => '20MB',
	'--snapshot-hold-time' => 10);
my @phases = ('preflight', 'schema', 'data', 'sequences', 'post-data');
my %all_dirs;

# ---------------------------------------------------------------------
# Helpers

# The step the state file says is running, '' if none.
sub running_step
{
	my ($dir) = @_;
	return state_query($dir,
		"SELECT name FROM step WHERE status = 'running' ORDER BY rowid DESC LIMIT 1");
}

# What the state file says the clone was doing, for the log.
sub describe_state
{
	my ($dir) = @_;
	my $step = running_step($dir);
	my $done = state_query($dir,
		"SELECT group_concat(name, ',') FROM step WHERE status = 'done'");
	my $parts = state_query($dir,
		"SELECT sum(status = 'done') || '/' || count(*) FROM parts");
	my $indexes = state_query($dir,
		"SELECT sum(status = 'done') || '/' || count(*) FROM indexes");
	return sprintf('running step "%s" (steps done: %s; parts done %s, indexes done %s)',
		$step eq '' ? 'none' : $step, $done || 'none',
		$parts || '-', $indexes || '-');
}

# Poll until $cond->() is true, pgcrane ended or $seconds passed.
sub wait_until
{
	my ($p, $seconds, $cond) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		return 1 if $cond->();
		return 0 if reap_pgcrane($p);
		usleep(50_000);
	}
	return 0;
}

# The last step seen running among @phases, as an index, -1 before any.
sub phase_index
{
	my ($dir) = @_;
	my $step = running_step($dir);
	for my $i (0 .. $#phases)
	{
		return $i if $phases[$i] eq $step;
	}
	return -1;
}

sub clone_args
{
	my ($db, $dir) = @_;
	return ('clone', '--source' => $src->connstr('shop'),
		'--target' => $dst->connstr($db), '--dir' => $dir, @copy_options);
}

# ---------------------------------------------------------------------
# A full clone, timed, seeing when each phase starts.

my %phase_seen;
{
	my $dir = "$tempdir/work-full";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args('fullcopy', $dir));
	$phase_seen{preflight} = 0;
	while (!reap_pgcrane($p))
	{
		my $step = running_step($dir);
		$phase_seen{$step} //= time() - $p->{start} if $step ne '';
		last if time() - $p->{start} > 4 * $timeout;
		usleep(50_000);
	}
	ok(wait_pgcrane($p, $timeout), 'full clone: pgcrane ends');
	is($p->{exit}, 0, 'full clone: exit code 0');
	$phase_seen{end} = $p->{end} - $p->{start};
	note(sprintf('full clone: %.2f s; phases first seen at: %s', $phase_seen{end},
		join(', ', map { sprintf('%s %.2f s', $_, $phase_seen{$_}) }
		  grep { defined $phase_seen{$_} } @phases)));
	note("full clone: step seconds from the state file: "
		  . state_query($dir, "SELECT group_concat(name || '=' || round(seconds, 2), ' ') FROM step"));
	clone_result_ok($src, 'shop', $dst, 'fullcopy', $dir, 'full clone');
}

# The windows of the full clone: each phase from when it was first seen
# until the next one was, the gaps between steps (target database,
# snapshot, catalog) counting with the phase before them.
my @windows;
{
	my @seen = grep { defined $phase_seen{$_} } @phases;
	for my $i (0 .. $#seen)
	{
		my $from = $phase_seen{ $seen[$i] };
		my $to = $i < $#seen ? $phase_seen{ $seen[ $i + 1 ] } : $phase_seen{end};
		push @windows, [ $seen[$i], $from, $to > $from ? $to : $from + 0.05 ];
	}
	die 'the full clone was not seen in any phase' unless @windows;
}

# ---------------------------------------------------------------------
# kill -9 at seeded random moments, then --resume.
#
# Moment k of 6 is drawn in the k-th sixth of the full clone's duration.
# It is turned into a phase and an offset into it, and in the run the
# kill comes that far after the phase is first seen, so a run somewhat
# faster or slower than the timed one is still killed in the phase meant.

srand(30_2024);
my @kills;
for my $k (0 .. 5)
{
	my $moment = $phase_seen{end} * ($k + rand()) / 6;
	my ($w) = grep { $moment >= $_->[1] && $moment < $_->[2] } @windows;
	$w //= $windows[-1];
	push @kills, [ $w->[0], $moment - $w->[1], $moment ];
}

# Kill the clone into $db at $offset seconds after $phase is first seen;
# returns the pgcrane run (ended).
sub clone_and_kill
{
	my ($label, $db, $dir, $phase, $offset) = @_;
	my $p = launch_pgcrane(clone_args($db, $dir));
	my ($target_idx) = grep { $phases[$_] eq $phase } 0 .. $#phases;
	my $seen_at;
	while (!reap_pgcrane($p) && time() - $p->{start} < 4 * $timeout)
	{
		if (!defined $seen_at
			&& ($phase eq 'preflight' || phase_index($dir) >= $target_idx))
		{
			$seen_at = $phase eq 'preflight' ? $p->{start} : time();
		}
		last if defined $seen_at && time() >= $seen_at + $offset;
		usleep(20_000);
	}
	my $killed_at = time() - $p->{start};
	kill 'KILL', $p->{pid} unless reap_pgcrane($p);
	wait_pgcrane($p, $timeout);
	diag(sprintf('%s: at %.2f s: %s', $label, $killed_at, describe_state($dir)));
	return $p;
}

for my $k (0 .. $#kills)
{
	my ($phase, $offset, $moment) = @{ $kills[$k] };
	my $n = $k + 1;
	my $label = "kill $n";
	my $db = "killed$n";
	my ($dir, $p);
	note(sprintf('%s: aiming at %.2f s of the full clone: %.2f s into "%s"',
		$label, $moment, $offset, $phase));

	# A run faster than the timed one may end before the moment: then
	# again, aiming at half as far into the phase (at most three runs).
	foreach my $try (1 .. 3)
	{
		$dir = "$tempdir/work-kill$n-$try";
		$all_dirs{$dir} = 1;
		$p = clone_and_kill($label, $db, $dir, $phase, $offset);
		# A kill between recording the end and exiting finds nothing to resume.
		last if $p->{signal} && state_kv($dir, 'status') ne 'ok';
		is($p->{exit} // 0, 0, "$label: the clone ended before the kill, with exit code 0");
		$dst->safe_psql('postgres', "DROP DATABASE $db");
		$offset /= 2;
		note(sprintf('%s: again, %.2f s into "%s"', $label, $offset, $phase));
	}
	is($p->{signal}, 9, "$label: pgcrane was killed by SIGKILL");
	isnt(state_kv($dir, 'status'), 'ok', "$label: the state file says unfinished");

	my $holder = state_kv($dir, 'snapshot.holder_pid');
	my $holder_alive = process_alive($holder);
	my ($rc, $out, $err) = clone_resume_ok($dir, $label);
	if ($holder_alive)
	{
		like($err, qr/resuming in the same snapshot/,
			"$label: the resume reads the same snapshot");
	}
	else
	{
		note("$label: killed before a snapshot holder ran");
	}
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# kill -9 while the target builds an index of bank.ledger (not one of a
# constraint), and a resume at once.  The statement the killed pgcrane
# had sent may still be running on the target when the resume starts.

{
	my $label = 'kill during an index build';
	my $db = 'killed_index';
	my $dir = "$tempdir/work-kill-index";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));
	my $building = '';
	my $seen = wait_until(
		$p, $timeout,
		sub {
			$building = $dst->safe_psql('postgres', q{
				SELECT pid || ' ' || query FROM pg_stat_activity
				WHERE application_name = 'pgcrane' AND state = 'active'
				  AND query LIKE 'CREATE INDEX ledger_account_idx ON bank.ledger %'
				LIMIT 1});
			$building ne '';
		});
	ok($seen, "$label: index ledger_account_idx is seen being built");
	kill 'KILL', $p->{pid} unless reap_pgcrane($p);
	wait_pgcrane($p, $timeout);
	diag("$label: killed during \"$building\": " . describe_state($dir));
	is($p->{signal}, 9, "$label: pgcrane was killed by SIGKILL");
	my ($pid) = split / /, $building;
	note("$label: the session building the index is still active: "
		  . $dst->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE pid = " . ($pid // 0)));
	clone_resume_ok($dir, $label);
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# Ctrl-C in the middle of the copy: SIGINT to the process group.

{
	my $label = 'SIGINT';
	my $db = 'interrupted';
	my $dir = "$tempdir/work-sigint";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));
	my $mid_copy = wait_until($p, $timeout,
		sub {
			running_step($dir) eq 'data'
			  && state_query($dir, "SELECT count(*) FROM parts WHERE status = 'done'") > 0;
		});
	ok($mid_copy, "$label: the clone is seen copying rows");
	diag("$label: at SIGINT: " . describe_state($dir));
	my $sent = time();
	kill 'INT', -$p->{pid};
	ok(wait_pgcrane($p, 60), "$label: pgcrane stops by itself");
	note(sprintf('%s: pgcrane stopped %.2f s after the signal', $label, time() - $sent));
	is($p->{exit}, 130, "$label: exit code 130");
	like(
		$p->{stderr},
		qr/^pgcrane: hint: Resume it with: pgcrane clone --resume --dir \Q$dir\E$/m,
		"$label: the resume hint is printed");
	is(state_kv($dir, 'status'), 'interrupted', "$label: the state file says interrupted");
	my $holder = state_kv($dir, 'snapshot.holder_pid');
	ok(process_alive($holder), "$label: the snapshot holder ($holder) outlives pgcrane");

	my ($rc, $out, $err) = clone_resume_ok($dir, $label);
	like($err, qr/resuming in the same snapshot/,
		"$label: the resume reads the same snapshot");
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# The snapshot lost: pgcrane and the snapshot holder both killed.

{
	my $label = 'snapshot lost';
	my $db = 'lost';
	my $dir = "$tempdir/work-lost";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));
	my $mid_copy = wait_until($p, $timeout,
		sub {
			running_step($dir) eq 'data'
			  && state_query($dir, "SELECT count(*) FROM parts WHERE status = 'done'") > 0;
		});
	ok($mid_copy, "$label: the clone is seen copying rows");
	my $sessions = $src->safe_psql('shop',
		q{SELECT string_agg(pid::text, ',') FROM pg_stat_activity
		  WHERE application_name = 'pgcrane'});
	note("$label: sessions of pgcrane on the source: $sessions");
	my $holder = state_kv($dir, 'snapshot.holder_pid');
	kill 'KILL', $p->{pid};
	wait_pgcrane($p, $timeout);
	diag("$label: at the kill: " . describe_state($dir));
	is($p->{signal}, 9, "$label: pgcrane was killed by SIGKILL");
	ok(process_alive($holder) && is_snapshot_holder($holder),
		"$label: the snapshot holder ($holder) runs");
	kill 'KILL', $holder;
	ok(wait_process_gone($holder, 30), "$label: the snapshot holder is gone");
	# Its session on the source ends with it, as do those of pgcrane.
	ok( $src->poll_query_until(
			'shop',
			qq{SELECT count(*) = 0 FROM pg_stat_activity
			   WHERE pid IN (${\($sessions || '0')})}),
		"$label: the sessions of pgcrane and the holder end on the source");

	my ($rc, $out, $err) = clone_resume_ok($dir, $label);
	like($err, qr/^pgcrane: warning: the snapshot of the interrupted clone is gone$/m,
		"$label: a warning says the snapshot is gone");
	like($err, qr/^pgcrane: warning: .*starts over from the schema in a new snapshot$/m,
		"$label: a warning says the clone starts over");
	is(state_kv($dir, 'snapshot.restarts'), '1',
		"$label: the state file counts one snapshot restart");
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# One work directory, two pgcranes; SIGTERM; a fresh clone on an
# unfinished directory; --resume with another target.

{
	my $label = 'same directory';
	my $db = 'shared';
	my $dir = "$tempdir/work-shared";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));
	ok(wait_until($p, $timeout, sub { state_kv($dir, 'status') eq 'running' }),
		"$label: the first clone runs");

	my ($rc, $out, $err) = run_pgcrane(clone_args($db, $dir));
	is($rc, 2, "$label: a second pgcrane on the directory exits with code 2");
	like(
		$err,
		qr/^pgcrane: error: work directory "\Q$dir\E" is in use by another pgcrane \(pid $p->{pid}\)$/m,
		"$label: the second pgcrane names the one using the directory");
	ok(!reap_pgcrane($p), "$label: the first clone goes on");

	# SIGTERM, as from a service manager, in the middle of the copy.
	my $mid_copy = wait_until($p, $timeout,
		sub {
			phase_index($dir) > 2
			  || (running_step($dir) eq 'data'
				&& state_query($dir, "SELECT count(*) FROM parts WHERE status = 'done'") > 0);
		});
	ok($mid_copy, "$label: the first clone is seen copying rows");
	diag("$label: at SIGTERM: " . describe_state($dir));
	kill 'TERM', $p->{pid};
	ok(wait_pgcrane($p, 60), "$label: SIGTERM: pgcrane stops by itself");
	is($p->{exit}, 130, "$label: SIGTERM: exit code 130");
	like($p->{stderr}, qr/^pgcrane: hint: Resume it with: pgcrane clone --resume --dir \Q$dir\E$/m,
		"$label: SIGTERM: the resume hint is printed");

	($rc, $out, $err) = run_pgcrane(clone_args($db, $dir));
	is($rc, 2, "$label: a fresh clone on the unfinished directory exits with code 2");
	like($err, qr/^pgcrane: error: work directory "\Q$dir\E" holds an unfinished clone$/m,
		"$label: the fresh clone is refused");
	like($err, qr/^pgcrane: hint: .*pgcrane clone --resume --dir \Q$dir\E/m,
		"$label: the refusal hints at --resume");

	($rc, $out, $err) = run_pgcrane('clone', '--resume', '--dir' => $dir,
		'--target' => $dst->connstr('elsewhere'));
	is($rc, 2, "$label: --resume with another --target exits with code 2");
	like($err, qr/^pgcrane: error: --target does not match the clone recorded in "\Q$dir\E"$/m,
		"$label: --resume with another --target is refused");
	ok(!database_exists($dst, 'elsewhere'), "$label: the other target is not created");

	# The recorded source and target, given again, are accepted.
	clone_resume_ok($dir, $label,
		'--source' => $src->connstr('shop'),
		'--target' => $dst->connstr($db));
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# No snapshot holder outlives the test.

foreach my $dir (sort keys %all_dirs)
{
	stop_snapshot_holder($dir);
}
is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot is left on the source');

done_testing();
