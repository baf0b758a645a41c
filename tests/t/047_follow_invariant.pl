
# Copyright (c) pgcrane contributors

# The invariant of following changes: the position reported to the source
# (the slot's confirmed_flush_lsn) never passes what the target has
# durably committed (the replication origin's progress), on every way a
# session can end, under a backlog of small transactions (which the apply
# groups into one target transaction, so a keepalive can arrive while
# one is open):
#
#  - SIGINT and SIGTERM at seeded random moments of the catch-up;
#  - an apply error in the middle of the backlog (a row the target already
#    holds), then the error removed and the follow restarted;
#  - kill -9.
#
# After each end: no source transaction lies between the target's origin
# (remote_lsn) and the slot's confirmed_flush_lsn.  The slot may pass the
# origin only over WAL that holds no change for the target (a keepalive
# while the target has everything): each row records the source's WAL
# insert position when it was written, and one session writes them in
# order, so a row between the two positions is a transaction the source
# was told to forget and the target never committed.  At the end a
# cutover, and every row of the source on the target, none twice.

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
my $seed = $ENV{PGCRANE_TEST_SEED} // 47;
srand($seed);
note("seed $seed");

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
CREATE TABLE events (id int PRIMARY KEY, note text NOT NULL,
  ins_lsn pg_lsn NOT NULL DEFAULT pg_current_wal_insert_lsn());
CREATE TABLE log (at int NOT NULL, note text);
ALTER TABLE log REPLICA IDENTITY FULL;
EOSQL

my $next_id = 1;

# A backlog of $n small transactions on the source.
sub backlog
{
	my ($n) = @_;
	my $first = $next_id;
	$next_id += $n;
	my $last = $next_id - 1;
	$src->safe_psql('shop', <<"EOSQL");
DO \$\$
BEGIN
  FOR i IN $first..$last LOOP
    INSERT INTO events (id, note) VALUES (i, 'event ' || i);
    INSERT INTO log VALUES (i, 'log ' || i);
    COMMIT;
  END LOOP;
END \$\$;
EOSQL
	return ($first, $last);
}

# Source transactions written between the origin and the slot position.
sub skipped
{
	my ($origin, $confirmed) = @_;
	return $src->safe_psql('shop',
		"SELECT count(*) FROM events WHERE ins_lsn > '$origin' AND ins_lsn < '$confirmed'");
}

# The invariant, with the follow stopped.
sub invariant_holds
{
	my ($label) = @_;
	my $slot = state_kv($dir, 'follow.slot');
	my $confirmed;
	for (my $i = 0; $i < $timeout * 10; $i++)
	{
		$confirmed = $src->safe_psql('postgres',
			"SELECT confirmed_flush_lsn FROM pg_replication_slots"
			  . " WHERE slot_name = '$slot' AND NOT active");
		last if $confirmed ne '';
		usleep(100_000);
	}
	my $origin = follow_origin_lsn($dst, 'postgres', $slot);
	ok($confirmed ne '' && $origin ne '' && skipped($origin, $confirmed) eq '0',
		"$label: the slot ($confirmed) passes no transaction the target lacks (origin $origin)");
	return;
}

sub start_follow
{
	my ($name) = @_;
	return start_background($tempdir, $name, pgcrane_path(), 'follow', '--dir' => $dir);
}

# ---------- clone --follow, then stop it ----------

backlog(200);
my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('shop'), '--target' => $dst->connstr('shop'),
	'--dir' => $dir, '--jobs' => 2);
ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, $timeout), 'clone --follow streams')
  or diag(slurp_if_exists("$tempdir/clone.err"));
kill 'INT', $clone;
is(wait_background($clone, $timeout), 130, 'the follow stops on SIGINT');
invariant_holds('after the clone');

# ---------- signals in the middle of a backlog ----------

my $round = 0;
foreach my $signal ('INT', 'TERM', 'INT', 'KILL', 'TERM', 'INT')
{
	$round++;
	backlog(20000);
	my $f = start_follow("follow$round");
	# A random moment of the catch-up, after its first status update and
	# keepalive (every 2 s): the window where a keepalive arrives while a
	# grouped target transaction is open.
	ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, $timeout),
		"round $round: the follow runs");
	usleep(2_200_000 + int(rand(1_500_000)));
	kill $signal, $f;
	my $rc = wait_background($f, $timeout);
	ok(defined $rc, "round $round: SIG$signal ends the follow");
	invariant_holds("round $round (SIG$signal)");
}

# ---------- an apply error in the middle of a backlog ----------

my ($first, $last) = backlog(20000);
my $clash = $first + 700;
$dst->safe_psql('shop', "INSERT INTO events (id, note) VALUES ($clash, 'already here')");
my $f = start_follow('follow-error');
my $rc = wait_background($f, 4 * $timeout);
is($rc, 2, 'the follow stops at the row the target already holds');
like(slurp_if_exists("$tempdir/follow-error.err"), qr/events/,
	'the error names the table');
invariant_holds('after the apply error');
is($dst->safe_psql('shop',
		"SELECT count(*) = coalesce(max(id) - $first + 1, 0) FROM events"
		  . " WHERE id >= $first AND id < $clash"),
	't', 'the target holds a gapless prefix of the backlog before the clash');
is($dst->safe_psql('shop', "SELECT count(*) FROM events WHERE id > $clash AND id <= $last"),
	'0', 'and nothing after the clash');
$dst->safe_psql('shop', "DELETE FROM events WHERE id = $clash");

# ---------- the rest, then the cutover ----------

backlog(300);
$f = start_follow('follow-last');
ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
	'the follow catches up after the error is removed')
  or diag(slurp_if_exists("$tempdir/follow-last.err"));
my ($crc, $cout, $cerr) = run_pgcrane('cutover', '--dir' => $dir, '--timeout' => 4 * $timeout);
is($crc, 0, 'the cutover succeeds') or diag($cerr);
wait_background($f, $timeout);
my $total = $next_id - 1;
is($dst->safe_psql('shop', 'SELECT count(*), count(DISTINCT id) FROM events'),
	"$total|$total", 'every event on the target, none twice');
is($dst->safe_psql('shop', 'SELECT count(*) FROM log'), $total,
	'every log row (no key, FULL identity) on the target, none twice');
tables_equal($src, 'shop', $dst, 'shop');
run_pgcrane('cleanup', '--dir' => $dir);

done_testing();
