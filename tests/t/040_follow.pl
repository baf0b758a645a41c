
# Copyright (c) pgcrane contributors

# Follow a busy source until cutover.  pgbench writes to the source with
# four clients while pgcrane clones it with --follow and then applies its
# changes; in the middle the follower is killed with SIGKILL and started
# again, and later the source server restarts.  After the cutover the
# target must hold exactly the source's rows: pgbench_history, which has no
# key (REPLICA IDENTITY FULL) and only grows, shows any transaction lost or
# applied twice.  status, cutover and cleanup are checked on the way.

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

# ---------- functions ----------

sub pgbench
{
	my ($name, @args) = @_;
	return start_background($tempdir, $name, 'pgbench', '-n', @args,
		$src->connstr('bench'));
}

# ---------- the source ----------

$src->append_conf('postgresql.conf', "wal_sender_timeout = 10s\n");
$src->reload;
$src->safe_psql('postgres', 'CREATE DATABASE bench');
command_ok([ 'pgbench', '-i', '-s', '2', '-q', $src->connstr('bench') ],
	'pgbench initializes the source');
$src->safe_psql('bench', <<'EOSQL');
ALTER TABLE pgbench_history REPLICA IDENTITY FULL;
CREATE TABLE events (id bigserial PRIMARY KEY, aid int NOT NULL,
                     at timestamptz NOT NULL DEFAULT now());
EOSQL
my $events_script = "$tempdir/events.sql";
open(my $fh, '>', $events_script) or die "$events_script: $!";
print $fh "\\set aid random(1, 200000)\nINSERT INTO events (aid) VALUES (:aid);\n";
close $fh;
my @workload = ('-b', 'tpcb-like@9', '-f', "$events_script\@1", '-c', '4');

# ---------- clone with --follow while pgbench writes ----------

my $bench1 = pgbench('pgbench1', @workload, '-T', '10');
$src->poll_query_until('bench', 'SELECT count(*) > 100 FROM pgbench_history')
  or die 'pgbench does not write';

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('bench'),
	'--target' => $dst->connstr('bench'),
	'--dir' => $dir, '--jobs' => 2);

# clone --follow goes on to follow once the copy is done; should it end
# instead, the follow is started on its own, as after a crash.
my $follower = $clone;
for (my $i = 0; $i < $timeout * 5; $i++)
{
	last if state_kv($dir, 'follow.phase') ne '';
	my $rc = wait_background($clone, 0.2);
	next unless defined $rc;
	is($rc, 0, 'clone --follow succeeds') or diag(slurp_if_exists("$tempdir/clone.err"));
	$follower = start_background($tempdir, 'follow', pgcrane_path(), 'follow',
		'--dir', $dir);
	last;
}
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, $timeout),
	'the changes are being applied')
  or diag(slurp_if_exists("$tempdir/clone.err")
	  . slurp_if_exists("$tempdir/follow.err"));

ok(wait_state_kv($dir, 'follow.applied_lsn', qr/^\d+\/[0-9A-F]+$/, $timeout),
	'the applied LSN is recorded');
my ($rc, $out, $err) = run_pgcrane('status', '--dir', $dir);
is($rc, 0, 'status runs while following');
like($out, qr/^follow: +(catching-up|streaming)/m, 'status shows the phase');
like($out, qr/applied LSN +\d+\/[0-9A-F]+/, 'status shows the applied LSN');

($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
isnt($rc, 0, 'cleanup refuses while following');
like($err, qr/in use by another pgcrane/, 'cleanup says the directory is in use');

# ---------- kill -9 in the middle of the writes ----------

sleep 2;
ok(wait_state_kv($dir, 'follow.transactions', qr/^[1-9]/, $timeout),
	'transactions were applied before the kill');
my $pid = state_kv($dir, 'follow.pid');
ok($pid =~ /^\d+$/ && kill('KILL', $pid), 'the follower is killed with SIGKILL');
wait_background($pid, $timeout);
$follower = start_background($tempdir, 'follow', pgcrane_path(), 'follow',
	'--dir', $dir);

is(wait_background($bench1, 4 * $timeout), 0, 'the first pgbench run succeeds')
  or diag(slurp_if_exists("$tempdir/pgbench1.err"));

# ---------- restart of the source ----------

ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
	'the restarted follower catches up');
$src->restart;
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, $timeout),
	'the follower reconnects after the source restarts');

# ---------- crash of the target ----------

# Commits on the target do not wait for its disk: those a crash loses must
# come again from the source, which was told only what the target had
# flushed.
my $bench2 = pgbench('pgbench2', @workload, '-T', '4');
sleep 2;
$dst->stop('immediate');
$dst->start;
is(wait_background($bench2, 4 * $timeout), 0, 'the second pgbench run succeeds')
  or diag(slurp_if_exists("$tempdir/pgbench2.err"));
sleep 2;

# ---------- cutover ----------

($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds');
like($err, qr/cutover done at source LSN \d+\/[0-9A-F]+/, 'cutover prints the summary');
is(wait_background($follower, $timeout), 0, 'the follower ends after the cutover')
  or diag(slurp_if_exists("$tempdir/follow.err"));
like(slurp_if_exists("$tempdir/follow.err"), qr/reconnecting in \d+ s/,
	'the follower reported the lost source connection');

tables_equal($src, 'bench', $dst, 'bench');
sequences_equal($src, 'bench', $dst, 'bench');
is(state_kv($dir, 'follow.missing_rows'), '0', 'every update and delete found its row');

($rc, $out, $err) = run_pgcrane('status', '--dir', $dir, '--json');
is($rc, 0, 'status --json runs after the cutover');
like($out, qr/"phase": "done"/, 'status says the follow is done');
my $cut = state_kv($dir, 'cutover.lsn');
like($cut, qr/^\d+\/[0-9A-F]+$/, 'the cutover LSN is recorded');
is( $src->safe_psql(
		'postgres',
		"SELECT confirmed_flush_lsn >= '$cut' FROM pg_replication_slots"),
	't',
	'the slot confirms everything up to the cutover');

# ---------- cleanup ----------

($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
is($rc, 0, 'cleanup succeeds') or diag($err);
is($src->safe_psql('bench', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot left on the source');
is($src->safe_psql('bench', 'SELECT count(*) FROM pg_publication'),
	'0', 'no publication left on the source');
is($dst->safe_psql('bench', 'SELECT count(*) FROM pg_replication_origin'),
	'0', 'no replication origin left on the target');

($rc, $out, $err) = run_pgcrane('follow', '--dir', $dir);
isnt($rc, 0, 'follow refuses a directory whose cutover is done');
like($err, qr/cutover recorded in .* is done already/, 'and says why');

note("clone:\n" . slurp_if_exists("$tempdir/clone.err"));
note("follow:\n" . slurp_if_exists("$tempdir/follow.err"));

done_testing();
