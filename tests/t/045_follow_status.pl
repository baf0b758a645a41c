
# Copyright (c) pgcrane contributors

# status and cutover say only what is true.  clone --follow names the
# transaction its replication slot waits for.  While pgbench writes a known
# number of transactions the follow is killed with SIGKILL twice: status
# then says it is not running, the LSNs it shows never move back, and the
# count of transactions applied survives the kills.  On a quiet source the
# lag is 0 s.  The cutover is refused while a transaction is prepared on
# the source, and with no follow running it catches up by itself; its
# summary lists what the follow does not carry.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $dir = "$tempdir/work";
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

# ---------- functions ----------

sub start_follow
{
	my ($name) = @_;
	return start_background($tempdir, $name, pgcrane_path(), 'follow',
		'--dir', $dir, '-v');
}

# pgcrane status --json as a hash of its scalar fields.
sub status_json
{
	my ($rc, $out, $err) = run_pgcrane('status', '--dir', $dir, '--json');
	my %h;
	while ($out =~ /"(\w+)": ("([^"]*)"|[\w.]+)/g)
	{
		$h{$1} = defined $3 ? $3 : $2;
	}
	return \%h;
}

# LSN a is before LSN b (as the source compares them).
sub lsn_lt
{
	my ($a, $b) = @_;
	return $src->safe_psql('postgres', "SELECT '$a'::pg_lsn < '$b'::pg_lsn") eq 't';
}

# Wait until the target holds everything the source has written now.
sub wait_caught_up
{
	my ($what) = @_;
	my $lsn = $src->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	for (my $i = 0; $i < $timeout * 5; $i++)
	{
		my $applied = state_kv($dir, 'follow.applied_lsn');
		return pass($what) if $applied ne '' && !lsn_lt($applied, $lsn);
		Time::HiRes::usleep(200_000);
	}
	return fail($what);
}

# ---------- the source ----------

$src->append_conf('postgresql.conf', "max_prepared_transactions = 5\n");
$src->restart;
$src->safe_psql('postgres', 'CREATE DATABASE st');
command_ok([ 'pgbench', '-i', '-s', '1', '-q', $src->connstr('st') ],
	'pgbench initializes the source');
$src->safe_psql('st', 'ALTER TABLE pgbench_history REPLICA IDENTITY FULL');

# ---------- clone --follow while a transaction holds an xid ----------

my $holder = start_background($tempdir, 'xid', 'psql', '-X', '-d', $src->connstr('postgres'),
	'-c', 'BEGIN; SELECT txid_current(); SELECT pg_sleep(8); COMMIT;');
$src->poll_query_until('postgres',
	'SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_xid IS NOT NULL')
  or die 'no transaction holds an xid';
my $xid_pid = $src->safe_psql('postgres',
	'SELECT pid FROM pg_stat_activity WHERE backend_xid IS NOT NULL');

my $follower = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('st'),
	'--target' => $dst->connstr('st'),
	'--dir' => $dir, '--jobs' => 2);
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'clone --follow goes on once the transaction has ended')
  or diag(slurp_if_exists("$tempdir/clone.err"));
my $clone_err = slurp_if_exists("$tempdir/clone.err");
note("clone --follow said: $_") for grep { /waiting|  pid / } split /\n/, $clone_err;
like($clone_err,
	qr/creating replication slot "[^"]+": waiting \d+ s for 1 transaction on the source to end/,
	'the slot creation says that it waits for a transaction');
like($clone_err, qr/pid $xid_pid in database "postgres" \(user "[^"]*", [^)]*, transaction open \d+ s\): .*pg_sleep/,
	'it names the transaction: pid, database, age, query');
is(wait_background($holder, $timeout), 0, 'the transaction that held an xid ended');

# ---------- kill -9 while pgbench writes a known number of transactions ----------

ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout), 'the follow catches up');
wait_caught_up('the target has the clone and the changes before pgbench');
my $base = state_kv($dir, 'follow.transactions');
note("transactions applied before pgbench: $base");

my $clients = 2;
my $per_client = 500;
my $bench = start_background($tempdir, 'pgbench', 'pgbench', '-n', '-c', $clients,
	'-t', $per_client, '-R', '100', $src->connstr('st'));

my @applied;
my $gone_status = '';
my $gone_running = '';
for my $kill (1 .. 3)
{
	for (1 .. 6)
	{
		my $s = status_json();
		push @applied, $s->{applied_lsn} if ($s->{applied_lsn} // '') ne '';
		Time::HiRes::usleep(300_000);
	}
	if ($kill == 3)
	{
		# Commits the target had not flushed are lost and come again.
		$dst->stop('immediate');
		$dst->start;
		next if !defined wait_background($follower, 1);
		note('the follow ended when the target restarted: started again');
		$follower = start_follow("follow$kill");
		next;
	}
	my $pid = state_kv($dir, 'follow.pid');
	ok($pid =~ /^\d+$/ && kill('KILL', $pid), "kill -9 of the follow, $kill");
	wait_background($follower, $timeout);
	if ($kill == 1)
	{
		my ($rc, $out) = run_pgcrane('status', '--dir', $dir);
		$gone_status = $out;
		note("status after kill -9: $_") for grep { /^follow:|^  go on/ } split /\n/, $out;
		$gone_running = status_json()->{running} // '';
	}
	$follower = start_follow("follow$kill");
	for (1 .. 4)
	{
		my $s = status_json();
		push @applied, $s->{applied_lsn} if ($s->{applied_lsn} // '') ne '';
		Time::HiRes::usleep(300_000);
	}
}
like($gone_status, qr/^follow: +not running \(last seen (catching-up|streaming)( \d+ s ago)?, pid \d+ gone\)/m,
	'status says the killed follow is not running');
is($gone_running, 'false', 'status --json says running: false');

is(wait_background($bench, 4 * $timeout), 0, 'pgbench succeeds')
  or diag(slurp_if_exists("$tempdir/pgbench.err"));
wait_caught_up('the target has every pgbench transaction');
push @applied, status_json()->{applied_lsn};

my $backwards = 0;
for my $i (1 .. $#applied)
{
	$backwards++ if lsn_lt($applied[$i], $applied[ $i - 1 ]);
}
is($backwards, 0, 'the applied LSN shown never moves back (' . scalar(@applied) . ' samples)');

my $expected = $base + $clients * $per_client;
my $counted = state_kv($dir, 'follow.transactions');
note("transactions counted after two kill -9 and a target crash: $counted, expected $expected");
is($counted, $expected, 'the count survives kill -9 and a crash of the target');
my $follow_err = join('', map { slurp_if_exists("$tempdir/follow$_.err") } 1 .. 3);
note("count correction: $_") for grep { /between the counted/ } split /\n/, $follow_err;
unlike($follow_err, qr/could not count the transactions/, 'the slot could be asked for the counts');

# ---------- lag on a quiet source ----------

# Writes in another database move the source's WAL position, not the stream.
$src->safe_psql('postgres', 'CREATE TABLE noise (i int)');
my @lags;
for (1 .. 8)
{
	$src->safe_psql('postgres', 'INSERT INTO noise VALUES (1)');
	Time::HiRes::usleep(500_000);
	my $s = status_json();
	push @lags, $s->{lag_seconds} // 'null' if ($s->{phase} // '') eq 'streaming';
}
ok(@lags > 0 && !grep({ $_ ne '0.0' } @lags),
	'the lag of a quiet, caught-up source is 0 s (' . join(' ', @lags) . ')');

# ---------- cutover refused while a transaction is prepared ----------

$src->safe_psql('st', "SELECT lo_from_bytea(0, 'a large object')");
$src->safe_psql('st', <<'EOSQL');
BEGIN;
INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 424242, now());
PREPARE TRANSACTION 'pending one';
EOSQL
my ($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 2, 'cutover is refused while a transaction is prepared');
like($err, qr/error: 1 transaction is prepared on the source database: their changes would not reach the target/,
	'cutover says why');
like($err, qr/detail: gid "pending one", owner "[^"]+", prepared \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/,
	'cutover names the prepared transaction');
is(state_kv($dir, 'cutover.requested'), '', 'no cutover was requested');
$src->safe_psql('st', "COMMIT PREPARED 'pending one'");

# ---------- cutover with no follow running ----------

my $pid = state_kv($dir, 'follow.pid');
ok(kill('KILL', $pid), 'the follow is killed once more');
wait_background($follower, $timeout);
$src->safe_psql('st', 'UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid <= 10');
($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover with no follow running succeeds') or diag($err);
like($err, qr/no pgcrane follow runs on "[^"]+": catching up to the cutover here/,
	'cutover says it catches up itself');
like($err, qr/cutover done at source LSN \d+\/[0-9A-F]+/, 'cutover prints the summary');
like($err, qr/Not carried by the follow/, 'the summary has a list of what was not carried');
like($err, qr/- schema changes \(DDL\)/, 'it lists schema changes');
like($err, qr/^  large objects +1 copied \(14 bytes\), 0 unlinked, 0 unchanged$/m,
	'the large object made while following is carried');
unlike($err, qr/- large objects/, 'large objects are not in the list of what was not carried');
like($err, qr/- sequences: only their values at the cutover/, 'it lists sequences');
unlike($err, qr/prepared transactions still prepared/, 'no prepared transaction is left');
is(state_kv($dir, 'follow.phase'), 'done', 'the follow is done');

tables_equal($src, 'st', $dst, 'st');
is( $dst->safe_psql('st', 'SELECT count(*) FROM pgbench_history WHERE delta = 424242'),
	'1', 'the transaction prepared, then committed, is on the target');

($rc, $out, $err) = run_pgcrane('status', '--dir', $dir);
like($out, qr/^follow: +done/m, 'status says done, not "not running"');

run_pgcrane('cleanup', '--dir', $dir);
stop_snapshot_holder($dir);
done_testing();
