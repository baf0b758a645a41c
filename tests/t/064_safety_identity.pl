
# Copyright (c) pgcrane contributors

# Identity, not strings.  pgcrane knows each side by server identity
# (system identifier, postmaster start, database OID) and refuses:
#
#  - a source and a target that are one database, however the two
#    connection strings are spelled (the same string, a Unix socket and
#    localhost:PORT), with and without --drop-if-exists, in clone and in
#    preflight;
#  - follow, status, cleanup and verify --dir given a database other than
#    the one the work directory recorded, or a recorded database dropped
#    and created again under its name;
#  - a fresh clone on a work directory whose follow still has its slot.
#
# Each refusal: its exit code, its one error line, and both servers
# exactly as before (server_fingerprint).

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

# Both servers also listen on localhost, to be reached by another spelling.
foreach my $node ($src, $dst)
{
	$node->append_conf('postgresql.conf', "listen_addresses = 'localhost'\n");
	$node->restart;
}

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
CREATE TABLE orders (id int PRIMARY KEY, note text);
INSERT INTO orders SELECT g, 'order ' || g FROM generate_series(1, 500) g;
CREATE SEQUENCE ticket START 200;
SELECT setval('ticket', 200);
EOSQL
$dst->safe_psql('postgres', 'CREATE DATABASE other');
$dst->safe_psql('other', <<'EOSQL');
CREATE TABLE keep (id int PRIMARY KEY);
INSERT INTO keep SELECT generate_series(1, 10);
CREATE SEQUENCE ticket START 200;
EOSQL

# The same server reached by TCP on localhost instead of its socket.
sub tcp_connstr
{
	my ($node, $db) = @_;
	return "host=localhost port=" . $node->port . " dbname=$db";
}

# Run pgcrane; assert its exit code, that its one error line matches $re,
# and that neither server changed.
sub refused
{
	my ($name, $code, $re, @args) = @_;
	my @before = (server_fingerprint($src), server_fingerprint($dst));
	my @holders = holder_processes($tempdir);
	my ($rc, $out, $err) = run_pgcrane(@args);
	is($rc, $code, "$name: exit code $code") or diag($err);
	my @errors = error_lines($err);
	is(scalar(@errors), 1, "$name: one error line") or diag($err);
	like($errors[0] // '', $re, "$name: the error says why");
	is(server_fingerprint($src), $before[0], "$name: the source is as before");
	is(server_fingerprint($dst), $before[1], "$name: the target is as before");
	is_deeply([ holder_processes($tempdir) ], \@holders, "$name: no snapshot holder left");
	return $err;
}

# ---------- one database as source and target ----------

my $same = qr/the source and the target are the same database/;
my $dir0 = "$tempdir/same";
foreach my $drop (0, 1)
{
	my @drop = $drop ? ('--drop-if-exists') : ();
	my $label = $drop ? 'with --drop-if-exists' : 'without --drop-if-exists';
	refused("clone, one string, $label", 1, $same, 'clone',
		'--source' => $src->connstr('shop'), '--target' => $src->connstr('shop'),
		'--dir' => "$dir0-a$drop", @drop);
	my $err = refused("clone, socket and localhost, $label", 1, $same, 'clone',
		'--source' => $src->connstr('shop'),
		'--target' => tcp_connstr($src, 'shop'),
		'--dir' => "$dir0-b$drop", @drop);
	unlike($err, qr/--drop-if-exists/, "clone $label: no hint to drop it");
	refused("preflight, socket and localhost, $label", 1, $same, 'preflight',
		'--source' => tcp_connstr($src, 'shop'),
		'--target' => $src->connstr('shop'), @drop);
}
refused('verify of one database with itself', 2, $same, 'verify',
	'--source' => $src->connstr('shop'), '--target' => tcp_connstr($src, 'shop'));
{
	local $ENV{PGCRANE_SOURCE} = $src->connstr('shop');
	local $ENV{PGCRANE_TARGET} = tcp_connstr($src, 'shop');
	refused('clone from the environment', 1, $same, 'clone', '--drop-if-exists',
		'--dir' => "$dir0-env");
}
is($src->safe_psql('shop', 'SELECT count(*) FROM orders'), '500',
	'the source still holds its rows');

# Another database of the same server is a legitimate target.
my ($rc, $out, $err) = run_pgcrane('clone', '--source' => $src->connstr('shop'),
	'--target' => tcp_connstr($src, 'shop_copy'), '--dir' => "$tempdir/copy");
is($rc, 0, 'clone into another database of the same server succeeds') or diag($err);
tables_equal($src, 'shop', $src, 'shop_copy');
$src->safe_psql('postgres', 'DROP DATABASE shop_copy');

# ---------- a follow and the databases it recorded ----------

my $dir = "$tempdir/follow";
my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('shop'), '--target' => $dst->connstr('shop'),
	'--dir' => $dir, '--jobs' => 2);
ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, $timeout),
	'clone --follow streams') or diag(slurp_if_exists("$tempdir/clone.err"));
kill 'INT', $clone;
my $crc = wait_background($clone, $timeout);
is($crc, 130, 'the follow stops on SIGINT') or diag(slurp_if_exists("$tempdir/clone.err"));
like(slurp_if_exists("$tempdir/clone.err"),
	qr/replication slot "pgcrane_\w+" remains on the source and retains .* of WAL/,
	'the stop names the slot left on the source and the WAL it holds');
$src->safe_psql('shop', "INSERT INTO orders VALUES (501, 'after the clone')");

my $not_recorded = qr/the target given is not the target database recorded in/;
refused('follow into another database', 2, $not_recorded, 'follow',
	'--dir' => $dir, '--target' => $dst->connstr('other'));
refused('follow into the same database by another spelling of another one', 2,
	$not_recorded, 'follow', '--dir' => $dir,
	'--target' => tcp_connstr($dst, 'other'));
refused('follow from another source database', 2,
	qr/the source given is not the source database recorded in/, 'follow',
	'--dir' => $dir, '--source' => $src->connstr('postgres'));
refused('status with another source', 2,
	qr/the source given is not the source database recorded/, 'status',
	'--dir' => $dir, '--source' => $dst->connstr('other'));
refused('cleanup with another target', 2, $not_recorded, 'cleanup',
	'--dir' => $dir, '--target' => $dst->connstr('other'));
refused('verify --dir with another target', 2, $not_recorded, 'verify',
	'--dir' => $dir, '--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('other'));
refused('a fresh clone on a directory with a follow not cut over', 2,
	qr/holds a follow whose replication slot "pgcrane_\w+" still exists/, 'clone',
	'--source' => $src->connstr('shop'), '--target' => $dst->connstr('other2'),
	'--dir' => $dir);
is($dst->safe_psql('other', 'SELECT count(*) FROM keep'), '10',
	'the other database was not written');

# The follow goes on into the recorded target, by another spelling of it.
my $follow = start_background($tempdir, 'follow', pgcrane_path(), 'follow',
	'--dir' => $dir, '--target' => tcp_connstr($dst, 'shop'));
ok($dst->poll_query_until('shop', 'SELECT count(*) = 501 FROM orders'),
	'the follow applies to the recorded target reached by TCP');
kill 'INT', $follow;
is(wait_background($follow, $timeout), 130, 'the follow stops again');

# The recorded target dropped and created again under its name.
$dst->safe_psql('postgres', 'ALTER DATABASE shop RENAME TO shop_saved');
$dst->safe_psql('postgres', 'CREATE DATABASE shop');
refused('follow into a database created again under the recorded name', 2,
	$not_recorded, 'follow', '--dir' => $dir);
$dst->safe_psql('postgres', 'DROP DATABASE shop');
$dst->safe_psql('postgres', 'ALTER DATABASE shop_saved RENAME TO shop');

# A follow started while the target is down waits for it, as for any
# lost connection, and proves the target once it is back.
$dst->stop;
my $waiting = start_background($tempdir, 'follow-down', pgcrane_path(), 'follow',
	'--dir' => $dir);
ok(wait_state_kv($dir, 'follow.phase', qr/^reconnecting$/, $timeout),
	'a follow started with the target down waits for it');
ok(process_alive($waiting), 'and keeps running');
$dst->start;
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'it proves the target and follows once the target is back')
  or diag(slurp_if_exists("$tempdir/follow-down.err"));
kill 'INT', $waiting;
is(wait_background($waiting, $timeout), 130, 'that follow stops on SIGINT');

# cleanup with the recorded databases removes the slot, the publication
# and the origin.
($rc, $out, $err) = run_pgcrane('cleanup', '--dir' => $dir);
is($rc, 0, 'cleanup of the recorded databases succeeds') or diag($err);
is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'), '0',
	'no slot is left on the source');
is($src->safe_psql('shop', 'SELECT count(*) FROM pg_publication'), '0',
	'no publication is left on the source');
is($dst->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_origin'), '0',
	'no origin is left on the target');

done_testing();
