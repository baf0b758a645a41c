
# Copyright (c) pgcrane contributors

# Nothing left after a failure.  A fresh clone that fails before its first
# row is copied removes what it created: the target database it created,
# the replication slot and publication of --follow, the snapshot holder;
# the corrected command then runs again as it is.  A target database that
# existed before is never dropped: the same command restores over what the
# failed run left in it.  A later failure or an interrupt stays
# resumable and names the slot it leaves and the WAL it retains; cleanup
# removes everything, the snapshot holder included.
#
# The failure that preflight cannot see: a table in a tablespace that the
# target server has, but whose directory the server cannot write, so the
# schema restore fails after the target database, the slot and the
# holder were created.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Path qw(make_path);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = abs_path(PostgreSQL::Test::Utils::tempdir());
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

my $src_ts = "$tempdir/ts_source";
make_path($src_ts);
$src->safe_psql('postgres', "CREATE TABLESPACE fast LOCATION '$src_ts'");
$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;
CREATE TABLE hot (id int PRIMARY KEY) TABLESPACE fast;
INSERT INTO hot SELECT generate_series(1, 100);
EOSQL

# Tablespace "fast" on the target, in a directory the server cannot
# write (or, fixed, can again).
sub broken_tablespace
{
	my ($dir) = @_;
	make_path($dir);
	$dst->safe_psql('postgres', "CREATE TABLESPACE fast LOCATION '$dir'");
	chmod 0500, glob("$dir/PG_*");
}

sub fix_tablespace
{
	my ($dir) = @_;
	chmod 0700, glob("$dir/PG_*");
}

broken_tablespace("$tempdir/ts_target");

sub source_clean
{
	my ($name) = @_;
	is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
		"$name: no slot on the source");
	is($src->safe_psql('shop', 'SELECT count(*) FROM pg_publication'), '0',
		"$name: no publication on the source");
	is_deeply([ holder_processes($tempdir) ], [], "$name: no snapshot holder runs");
}

# ---------- a created target database is removed ----------

foreach my $follow (0, 1)
{
	my $label = $follow ? 'clone --follow' : 'clone';
	my $dir = "$tempdir/work$follow";
	my @args = ('clone', '--source' => $src->connstr('shop'),
		'--target' => $dst->connstr('shop'), '--dir' => $dir,
		$follow ? ('--follow') : ());
	my $before = server_fingerprint($dst);
	my ($rc, $out, $err) = run_pgcrane(@args);
	is($rc, 2, "$label failing in the schema: exit code 2");
	like($err, qr/could not create directory .*Permission denied/i,
		"$label: the cause is shown");
	like($err, qr/clone failed in phase "schema"/, "$label: the phase is named");
	like($err, qr/dropped target database "shop", which this run had created/,
		"$label: the created target database is dropped");
	like($err, qr/Nothing this run created is left/, "$label: the hint says so");
	unlike($err, qr/--resume/, "$label: no resume hint");
	ok(!database_exists($dst, 'shop'), "$label: no target database is left");
	is(server_fingerprint($dst), $before, "$label: the target server is as before");
	source_clean($label);
	is(state_kv($dir, 'status'), 'rolled back', "$label: recorded as rolled back");

	if ($follow)
	{
		# Corrected: the target server may write its tablespace.
		fix_tablespace("$tempdir/ts_target");
		my $p = start_background($tempdir, 'rerun', pgcrane_path(), @args);
		ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, $timeout),
			"$label: the same command runs again as it is")
		  or diag(slurp_if_exists("$tempdir/rerun.err"));
		tables_equal($src, 'shop', $dst, 'shop');

		# An interrupt leaves the slot, names it and says what it holds.
		kill 'INT', $p;
		is(wait_background($p, $timeout), 130, "$label: SIGINT stops the follow");
		like(slurp_if_exists("$tempdir/rerun.err"),
			qr/replication slot "pgcrane_\w+" remains on the source and retains .* of WAL/,
			"$label: the slot left on the source is named with its WAL");
		like(slurp_if_exists("$tempdir/rerun.err"),
			qr/pgcrane cleanup --dir \Q$dir\E/, "$label: the command that removes it is given");
		($rc, $out, $err) = run_pgcrane('cleanup', '--dir' => $dir);
		is($rc, 0, "$label: cleanup succeeds") or diag($err);
		source_clean("$label, cleanup");
		$dst->safe_psql('postgres', 'DROP DATABASE shop');
		$dst->safe_psql('postgres', 'DROP TABLESPACE fast');
	}
}

# ---------- a target database that existed is kept ----------

broken_tablespace("$tempdir/ts_target2");
$dst->safe_psql('postgres', 'CREATE DATABASE shop');
$dst->safe_psql('postgres', 'COMMENT ON DATABASE shop IS \'made by the user\'');
my $oid = $dst->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'shop'");
my $dir = "$tempdir/existing";
my @args = ('clone', '--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop'), '--dir' => $dir);
my ($rc, $out, $err) = run_pgcrane(@args);
is($rc, 2, 'into an existing database: the failing clone exits 2');
is($dst->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'shop'"), $oid,
	'the existing target database is not dropped');
like($err, qr/existed before and keeps part of the schema/, 'the hint says what is left');
source_clean('existing target');

fix_tablespace("$tempdir/ts_target2");
($rc, $out, $err) = run_pgcrane(@args);
is($rc, 0, 'the same command restores over what the failed run left') or diag($err);
tables_equal($src, 'shop', $dst, 'shop');
is($dst->safe_psql('postgres', "SELECT oid FROM pg_database WHERE datname = 'shop'"), $oid,
	'into the very database that existed');
is(state_kv($dir, 'target.partial'), '', 'the partial target is forgotten once done');

# A later fresh run on the same directory into another database is a new
# clone: the database the rolled-back run left is no excuse there.
$dst->safe_psql('postgres', 'CREATE DATABASE other');
$dst->safe_psql('other', 'CREATE TABLE x (a int)');
($rc, $out, $err) = run_pgcrane('clone', '--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('other'), '--dir' => $dir);
is($rc, 1, 'a non-empty target of another clone is refused');
like((error_lines($err))[0] // '', qr/target database "other" is not empty/,
	'with the usual message');

# ---------- cleanup of an interrupted plain clone stops its holder ----------

$src->safe_psql('shop', 'CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 20) AS pad'
	  . ' FROM generate_series(1, 300000) g');
$dst->safe_psql('postgres', 'DROP DATABASE other');
my $dir2 = "$tempdir/interrupted";
my $p = start_background($tempdir, 'plain', pgcrane_path(), 'clone',
	'--source' => $src->connstr('shop'), '--target' => $dst->connstr('copy2'),
	'--dir' => $dir2, '--jobs' => 1);
ok(wait_state_kv($dir2, 'snapshot.holder_pid', qr/^\d+$/, $timeout), 'the holder starts');
my $holder = state_kv($dir2, 'snapshot.holder_pid');
kill 'INT', $p;
my $prc = wait_background($p, $timeout);
SKIP:
{
	skip 'the clone finished before the interrupt', 3 if defined $prc && $prc == 0;
	is($prc, 130, 'the interrupted clone exits 130');
	ok(process_alive($holder), 'the holder outlives it, for a resume');
	($rc, $out, $err) = run_pgcrane('cleanup', '--dir' => $dir2);
	ok(wait_process_gone($holder, 10), 'cleanup stops the holder') or diag($err);
}
stop_snapshot_holder($dir2);

# ---------- a fresh run after one killed before it copied a row ----------

{
	my $label = 'after kill -9';
	my $dir3 = "$tempdir/killed";
	$src->safe_psql('shop', 'ALTER TABLE big ADD PRIMARY KEY (id)');
	my @cmd = (pgcrane_path(), 'clone', '--follow', '--source' => $src->connstr('shop'),
		'--target' => $dst->connstr('copy3'), '--dir' => $dir3, '--jobs' => 1);
	my $k = start_background($tempdir, 'killed', @cmd);
	ok(wait_state_kv($dir3, 'snapshot.holder_pid', qr/^\d+$/, $timeout),
		"$label: the first run has its snapshot");
	kill 'KILL', $k;
	wait_background($k, $timeout);
	my $old_holder = state_kv($dir3, 'snapshot.holder_pid');
	my $done = state_query($dir3, "SELECT count(*) FROM parts WHERE status = 'done'");
	SKIP:
	{
		skip "$label: the first run had copied rows already", 5
		  if $done ne '' && $done > 0;
		my $again = start_background($tempdir, 'again', @cmd);
		ok(wait_state_kv($dir3, 'follow.phase', qr/^streaming$/, $timeout),
			"$label: the same command runs again as it is")
		  or diag(slurp_if_exists("$tempdir/again.err"));
		like(slurp_if_exists("$tempdir/again.err"),
			qr/removing what an earlier run that copied no row left/,
			"$label: the leftovers of the killed run are removed first");
		ok(!(process_alive($old_holder) && is_snapshot_holder($old_holder)),
			"$label: the killed run's snapshot holder is gone");
		is($src->safe_psql('postgres',
				'SELECT string_agg(slot_name, \',\') FROM pg_replication_slots'),
			state_kv($dir3, 'follow.slot'), "$label: one slot on the source, the new run's");
		tables_equal($src, 'shop', $dst, 'copy3');
		kill 'INT', $again;
		wait_background($again, $timeout);
	}
	run_pgcrane('cleanup', '--dir' => $dir3);
	stop_snapshot_holder($dir3);
}

done_testing();
