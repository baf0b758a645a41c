
# Copyright (c) pgcrane contributors

# Faults in the middle of a clone's copy.
#
#  - A copy connection terminated (pg_terminate_backend) in the middle of
#    a table, once on the target and once on the source, in one clone: the
#    task is retried ("... failed; retrying in N s (attempt K of 5)"), the
#    clone exits 0 and the target equals the source.
#  - The target server restarted in the middle of the copy: either the
#    clone retries and completes, or it fails with exit code 2 and
#    "clone --resume" completes; the target equals the source.
#  - The source server restarted in the middle of the copy, which ends the
#    clone's snapshot: the clone fails or retries; a resume, if needed,
#    says the snapshot is gone and starts over; the target equals the
#    source.
#
# The faults are aimed with pg_stat_progress_copy: a COPY of pgcrane that
# has already processed rows.  No assertion depends on timing.

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
FROM generate_series(1, 900000) AS i;
CREATE INDEX ledger_account_idx ON bank.ledger (account_id, booked);
CREATE TABLE bank.journal (id bigint PRIMARY KEY, note text NOT NULL);
INSERT INTO bank.journal SELECT i, repeat(md5(i::text), 3) FROM generate_series(1, 150000) AS i;
CREATE SEQUENCE bank.invoice_no START 1000;
SELECT setval('bank.invoice_no', 4242);
CREATE MATERIALIZED VIEW bank.ledger_by_account AS
    SELECT account_id, count(*) AS n, sum(amount) AS total
    FROM bank.ledger GROUP BY account_id;
SELECT count(lo_from_bytea(0, convert_to(repeat(md5(i::text), 100 * i), 'UTF8')))
FROM generate_series(1, 10) AS i;
EOSQL
$src->safe_psql('shop', 'VACUUM ANALYZE');
note('source size: '
	  . $src->safe_psql('shop', q{SELECT pg_size_pretty(pg_database_size('shop'))}));

my @copy_options = ('--jobs' => 2, '--split-tables-larger-than' => '20MB',
	'--snapshot-hold-time' => 10);
my %all_dirs;

# ---------------------------------------------------------------------
# Helpers (see tests/slow/030_resume.pl)

sub describe_state
{
	my ($dir) = @_;
	my $step = state_query($dir,
		"SELECT name FROM step WHERE status = 'running' ORDER BY rowid DESC LIMIT 1");
	my $parts = state_query($dir,
		"SELECT sum(status = 'done') || '/' || count(*) FROM parts");
	return sprintf('running step "%s", parts done %s',
		$step eq '' ? 'none' : $step, $parts || '-');
}

sub clone_args
{
	my ($db, $dir) = @_;
	return ('clone', '--source' => $src->connstr('shop'),
		'--target' => $dst->connstr($db), '--dir' => $dir, @copy_options);
}

# A COPY of pgcrane on $node that has processed rows already, as
# "pid relation rows", or '' if there is none.  $command is 'COPY FROM'
# (target) or 'COPY TO' (source).
sub copy_in_progress
{
	my ($node, $command) = @_;
	return $node->safe_psql('postgres', <<"EOQ");
SELECT a.pid || ' ' || coalesce(p.relid::regclass::text, '(query)') || ' ' || p.tuples_processed
FROM pg_stat_activity a
JOIN pg_stat_progress_copy p ON p.pid = a.pid
WHERE a.application_name = 'pgcrane' AND p.command = '$command'
  AND p.tuples_processed > 20000
ORDER BY p.tuples_processed LIMIT 1
EOQ
}

# Poll until pgcrane copies rows on $node; returns that COPY (see above).
sub wait_for_copy
{
	my ($p, $node, $command) = @_;
	my $deadline = time() + $timeout;
	while (time() < $deadline && !reap_pgcrane($p))
	{
		my $copy = copy_in_progress($node, $command);
		return $copy if $copy ne '';
		usleep(20_000);
	}
	return '';
}

# After a fault: pgcrane either finished, or failed with exit code 2 and
# a resume finishes.  Returns the resume's stderr ('' if none ran).
sub finish_or_resume
{
	my ($p, $dir, $label) = @_;
	ok(wait_pgcrane($p, 4 * $timeout), "$label: pgcrane ends");
	if (defined $p->{exit} && $p->{exit} == 0)
	{
		pass("$label: the clone completed by itself");
		return '';
	}
	is($p->{exit}, 2, "$label: the clone failed with exit code 2");
	like($p->{stderr}, qr/^pgcrane: hint: Resume it with: pgcrane clone --resume --dir \Q$dir\E$/m,
		"$label: the failure hints at --resume");
	my ($rc, $out, $err) = clone_resume_ok($dir, $label);
	return $err;
}

my $retry_re = qr/^pgcrane: warning: .* failed; retrying in \d+ s \(attempt [2-5] of 5\)$/m;

# ---------------------------------------------------------------------
# Copy connections terminated: on the target, then on the source.

{
	my $label = 'terminated copies';
	my $db = 'terminated';
	my $dir = "$tempdir/work-terminated";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));

	my $n = 0;
	foreach my $side ([ $dst, 'COPY FROM', 'target' ], [ $src, 'COPY TO', 'source' ])
	{
		my ($node, $command, $name) = @$side;
		my $copy = wait_for_copy($p, $node, $command);
		ok($copy ne '', "$label: a copy of pgcrane is seen on the $name")
		  or next;
		my ($pid, $rel, $rows) = split / /, $copy;
		note("$label: terminating the $name session $pid ($command $rel, $rows rows in)");
		is($node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)"),
			't', "$label: the $name session is terminated");
		$n++;
	}
	ok(wait_pgcrane($p, 4 * $timeout), "$label: pgcrane ends");
	is($p->{exit}, 0, "$label: the clone completes (exit code 0)");
	# Both terminated sessions may belong to the same worker, whose one
	# failed task is then retried once: at least one retry is logged.
	my @retries = $p->{stderr} =~ /$retry_re/g;
	cmp_ok(scalar(@retries), '>=', $n > 0 ? 1 : 0,
		"$label: a warning says the terminated task is retried");
	is_deeply([ error_lines($p->{stderr}) ], [],
		"$label: a recovered fault prints warnings, no error line");
	like($p->{stderr}, qr/^pgcrane: warning: could not .*terminat/m,
		"$label: the cause of the retry is a warning");
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# The target server restarted in the middle of the copy.

{
	my $label = 'target restart';
	my $db = 'restarted';
	my $dir = "$tempdir/work-target-restart";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));
	my $copy = wait_for_copy($p, $dst, 'COPY FROM');
	ok($copy ne '', "$label: a copy of pgcrane is seen on the target");
	diag("$label: restarting the target during $copy: " . describe_state($dir));
	$dst->restart;
	finish_or_resume($p, $dir, $label);
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

# ---------------------------------------------------------------------
# The source server restarted in the middle of the copy: the snapshot is
# gone with it.

{
	my $label = 'source restart';
	my $db = 'source_restarted';
	my $dir = "$tempdir/work-source-restart";
	$all_dirs{$dir} = 1;
	my $p = launch_pgcrane(clone_args($db, $dir));
	my $copy = wait_for_copy($p, $src, 'COPY TO');
	ok($copy ne '', "$label: a copy of pgcrane is seen on the source");
	diag("$label: restarting the source during $copy: " . describe_state($dir));
	$src->restart;
	my $err = finish_or_resume($p, $dir, $label);
	if ($err ne '')
	{
		like($err, qr/^pgcrane: warning: the snapshot of the interrupted clone is gone$/m,
			"$label: the resume says the snapshot is gone");
	}
	clone_result_ok($src, 'shop', $dst, $db, $dir, $label);
}

foreach my $dir (sort keys %all_dirs)
{
	stop_snapshot_holder($dir);
}

done_testing();
