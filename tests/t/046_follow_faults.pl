
# Copyright (c) pgcrane contributors

# Follow through faults.  pgbench writes to the source while pgcrane
# follows it; meanwhile the follower is killed with SIGKILL at random
# moments (seeded: PGCRANE_SEED, shown in the log) and started again, the
# target restarts with -m fast and -m immediate and stays down for longer
# than a backoff step (part of it answering as a server in crash recovery
# does), and the source restarts with -m fast and -m immediate.  The same follow process must ride out every server fault:
# it reconnects, says so in status, and goes on.  After each fault, with
# the follower stopped, the slot's confirmed_flush_lsn on the source must
# not pass the origin's progress on the target: the source never forgets
# a change the target does not hold.  After the cutover every table,
# pgbench_history (no key, REPLICA IDENTITY FULL, only grows) included,
# is the same on both sides.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use IO::Socket::UNIX;
use POSIX ();
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes ();

my $seed = $ENV{PGCRANE_SEED} // 46;
srand($seed);
note("random seed $seed (set PGCRANE_SEED to repeat another run)");

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $dir = "$tempdir/work";
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $follower;		# pid of the process that follows
my $errfile;		# its stderr
my @measured;		# "fault: resumed after N s"

# ---------- functions ----------

sub pgbench
{
	my ($name, @args) = @_;
	return start_background($tempdir, $name, 'pgbench', '-n', '-c', '2',
		'-R', '40', @args, $src->connstr('bench'));
}

sub count_in
{
	my ($file, $re) = @_;
	my @m = (slurp_if_exists($file) =~ /$re/g);
	return scalar @m;
}

# Sessions the follower started so far.
sub sessions
{
	return count_in($errfile, qr/streaming changes from slot/);
}

sub start_follow
{
	$errfile = "$tempdir/follow.err";
	$follower = start_background($tempdir, 'follow', pgcrane_path(), 'follow',
		'--dir', $dir);
	ok(wait_state_kv($dir, 'follow.pid', qr/^$follower$/, $timeout),
		'the new follower records its pid');
	return;
}

# Wait until the follower has applied more transactions than now.
sub wait_progress
{
	my ($label) = @_;
	my $before = state_kv($dir, 'follow.transactions') || 0;
	ok(poll_until(sub { (state_kv($dir, 'follow.transactions') || 0) > $before }),
		"$label: the follower applies changes")
	  or diag(slurp_if_exists($errfile));
	return;
}

# The invariant, with no follower running: the source was told to forget
# nothing the target has not committed.
sub check_invariant
{
	my ($label) = @_;
	my $slot = state_kv($dir, 'follow.slot');
	my $origin = state_kv($dir, 'follow.origin');
	my $flush = $src->safe_psql('bench',
		"SELECT confirmed_flush_lsn FROM pg_replication_slots WHERE slot_name = '$slot'");
	my $remote = follow_origin_lsn($dst, 'bench', $origin);
	is($src->safe_psql('postgres', "SELECT '$flush'::pg_lsn <= '$remote'::pg_lsn"),
		't', "$label: confirmed_flush_lsn $flush <= origin's remote_lsn $remote");
	return;
}

# Stop the follower with SIGINT, check the invariant, start a new one.
sub stop_check_restart
{
	my ($label) = @_;
	ok(kill('INT', $follower), "$label: the follower is stopped with SIGINT");
	my $rc = wait_background($follower, 4 * $timeout);
	is($rc, 130, "$label: the follower exits as interrupted")
	  or diag(slurp_if_exists($errfile));
	check_invariant("$label, stopped");
	start_follow();
	return;
}

# A server fault the same follower must ride out: $fault runs it and
# returns once the server is back (or the time it was back).
sub survive
{
	my ($label, $fault) = @_;
	my $pid = $follower;
	my $sessions = sessions();
	my $reconnects = count_in($errfile, qr/reconnecting in \d+ s/);

	my $back = $fault->();
	$back = Time::HiRes::time() unless $back =~ /^\d+\.\d+$/;
	ok(poll_until(sub { sessions() > $sessions || !process_alive($pid) })
		  && process_alive($pid),
		"$label: the same follower streams again")
	  or diag(slurp_if_exists($errfile));
	my $took = Time::HiRes::time() - $back;
	push @measured, sprintf("%s: streaming again %.1f s after the server was back", $label, $took);
	ok(count_in($errfile, qr/reconnecting in \d+ s/) > $reconnects,
		"$label: the follower reported that it reconnects");
	is(state_kv($dir, 'follow.pid'), $pid, "$label: no other process took over");
	wait_progress($label);
	my $lag = state_kv($dir, 'follow.lag_seconds');
	push @measured, "$label: lag then $lag s";
	return;
}

# A stand-in for a server in crash recovery, on the socket of $node (which
# is stopped): every connection gets the error PostgreSQL sends then
# (FATAL, 57P03).  Returns its pid.
sub recovering_server
{
	my ($node) = @_;
	my $path = $node->host . '/.s.PGSQL.' . $node->port;
	my @fields = (
		[ 'S', 'FATAL' ], [ 'V', 'FATAL' ], [ 'C', '57P03' ],
		[ 'M', 'the database system is not yet accepting connections' ],
		[ 'D', 'Consistent recovery state has not been yet reached.' ]);
	my $body = join('', map { "$_->[0]$_->[1]\0" } @fields) . "\0";
	unlink $path;
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	return $pid if $pid != 0;
	my $srv = IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path, Listen => 5)
	  or POSIX::_exit(1);
	while (my $c = $srv->accept)
	{
		my ($len, $rest);
		if (sysread($c, $len, 4) == 4 && unpack('N', $len) > 4)
		{
			sysread($c, $rest, unpack('N', $len) - 4);
		}
		syswrite($c, 'E' . pack('N', 4 + length($body)) . $body);
		close $c;
	}
	POSIX::_exit(0);
}

# kill -9 at a random moment, then a new follower.
sub kill_follower
{
	my ($label) = @_;
	my $wait = 0.5 + rand(3);
	Time::HiRes::sleep($wait);
	ok(kill('KILL', $follower), "$label: the follower is killed with SIGKILL after "
		  . sprintf('%.1f', $wait) . ' s');
	wait_background($follower, $timeout);
	check_invariant("$label, killed");
	my $start = Time::HiRes::time();
	start_follow();
	wait_progress("$label, restarted");
	push @measured,
	  sprintf("%s: a new follower applied changes after %.1f s", $label,
		Time::HiRes::time() - $start);
	return;
}

# ---------- the source ----------

$src->append_conf('postgresql.conf', "wal_sender_timeout = 10s\n");
$src->reload;
$src->safe_psql('postgres', 'CREATE DATABASE bench');
command_ok([ 'pgbench', '-i', '-s', '1', '-q', $src->connstr('bench') ],
	'pgbench initializes the source');
$src->safe_psql('bench', 'ALTER TABLE pgbench_history REPLICA IDENTITY FULL');

# ---------- clone with --follow ----------

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('bench'),
	'--target' => $dst->connstr('bench'),
	'--dir' => $dir, '--jobs' => 2);
$follower = $clone;
$errfile = "$tempdir/clone.err";
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'the clone goes on to follow')
  or diag(slurp_if_exists("$tempdir/clone.err"));

# ---------- faults of the follower and of the target, under pgbench ----------

my $bench = pgbench('pgbench1', '-T', '150');
wait_progress('pgbench');

kill_follower('kill -9 #1');

survive('target restart -m fast',
	sub { $dst->stop('fast'); $dst->start; return Time::HiRes::time(); });
stop_check_restart('target restart -m fast');

kill_follower('kill -9 #2');

survive('target restart -m immediate',
	sub { $dst->stop('immediate'); $dst->start; return Time::HiRes::time(); });
stop_check_restart('target restart -m immediate');

# Down for 15 s: no server for 5 s, then one in crash recovery (see
# recovering_server) for 10 s.
my $status_seen = 0;
survive(
	'target down 15 s',
	sub {
		$dst->stop('fast');
		my $start = Time::HiRes::time();
		my $recovering;
		while (Time::HiRes::time() < $start + 15)
		{
			$recovering = recovering_server($dst)
			  if !$recovering && Time::HiRes::time() > $start + 5;
			my ($rc, $out) = run_pgcrane('status', '--dir', $dir);
			$status_seen = 1
			  if $out =~ /^  reconnecting \(attempt \d+, last error: .*target server.*\)$/m;
			Time::HiRes::sleep(1);
		}
		kill('KILL', $recovering);
		waitpid($recovering, 0);
		unlink($dst->host . '/.s.PGSQL.' . $dst->port);
		$dst->start;
		return Time::HiRes::time();
	});
ok($status_seen, 'status shows the attempt and the last error while reconnecting');
like(slurp_if_exists($errfile),
	qr/^pgcrane: warning: could not connect to target server: .*not yet accepting connections/m,
	'a target in crash recovery is waited for');
like(state_kv($dir, 'follow.reconnect_attempt'), qr/^0$/,
	'the attempt count is reset once a session works');
stop_check_restart('target down 15 s');

kill_follower('kill -9 #3');

ok(kill('INT', $bench), 'the first pgbench run is ended');
wait_background($bench, 4 * $timeout);

# ---------- faults of the source ----------

# A restart of the source also ends pgbench's sessions: each fault gets a
# short pgbench run of its own, whose exit code does not matter.
for my $mode ('fast', 'immediate')
{
	$bench = pgbench("pgbench-$mode", '-T', '8');
	wait_progress("source -m $mode, before");
	survive(
		"source restart -m $mode",
		sub {
			Time::HiRes::sleep(1 + rand(2));
			$src->stop($mode);
			$src->start;
			my $back = Time::HiRes::time();
			wait_background($bench, 4 * $timeout);
			$bench = pgbench("pgbench-$mode-after", '-T', '4');
			return $back;
		});
	wait_background($bench, 4 * $timeout);
	stop_check_restart("source restart -m $mode");
}

# ---------- cutover ----------

my ($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($err);
is(wait_background($follower, $timeout), 0, 'the follower ends after the cutover')
  or diag(slurp_if_exists($errfile));

tables_equal($src, 'bench', $dst, 'bench');
is(state_kv($dir, 'follow.missing_rows'), '0', 'every update and delete found its row');

my $logs = slurp_if_exists("$tempdir/clone.err") . slurp_if_exists("$tempdir/follow.err");
unlike($logs, qr/^pgcrane: error:/m, 'no follower printed an error: every fault was recovered');
like($logs, qr/^pgcrane: warning: .*(terminating connection|server closed|Connection refused|No such file|not yet accepting|starting up|shutting down)/m,
	'the recovered failures show as warnings');

note("measured:\n" . join("\n", @measured));
note("clone:\n" . slurp_if_exists("$tempdir/clone.err"));
note("follow:\n" . slurp_if_exists("$tempdir/follow.err"));

done_testing();
