
# Copyright (c) pgcrane contributors

# Follow a database as a managed service has it.  Four runs, each cloned
# with --follow under writes, its follower killed with SIGKILL and started
# again, then cut over and proved equal by pgcrane verify:
#
#  - tables without a replica identity (no key, REPLICA IDENTITY NOTHING,
#    an index identity whose index is gone) under updates and deletes, with
#    --replica-identity-full; refused without it; cleanup gives each table
#    its identity back;
#  - a source role that owns its tables and has REPLICATION but is not a
#    superuser: the publication is FOR TABLE, and a table created on the
#    source during the follow stops it, named;
#  - a target role that is not a superuser, given exactly the GRANT
#    statements preflight prints: replication origins are used;
#  - a target role without the origin functions: the progress goes to
#    pgcrane.follow_progress, which cleanup drops.

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

# The writes: updates, deletes and inserts on every table of the run.
my $script = "$tempdir/writes.sql";
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'EOS';
\set id random(1, 200)
UPDATE items SET v = v + 1 WHERE id = :id;
UPDATE logs SET v = v + 1 WHERE id = :id;
DELETE FROM logs WHERE id = :id + 200;
INSERT INTO logs VALUES (:id + 200, 0), (:id + 200, 0);
EOS
close $fh;

sub writes
{
	my ($name, $connstr, $seconds) = @_;
	return start_background($tempdir, $name, 'pgbench', '-n', '-f', $script,
		'-c', '2', '-T', $seconds, $connstr);
}

# The tables every run has: one with a key, one without (duplicates too).
sub make_tables
{
	my ($db, $owner) = @_;
	$src->safe_psql('postgres', "CREATE DATABASE $db" . ($owner ? " OWNER $owner" : ''));
	my $set_role = $owner ? "SET ROLE $owner;" : '';
	$src->safe_psql($db, <<"EOSQL");
$set_role
CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL);
INSERT INTO items SELECT g, 0 FROM generate_series(1, 200) g;
CREATE TABLE logs (id int, v int);
INSERT INTO logs SELECT g % 400 + 1, 0 FROM generate_series(1, 800) g;
ALTER TABLE logs REPLICA IDENTITY FULL;
EOSQL
}

# Wait until the follow of $dir streams, or its clone ends.
sub wait_streaming
{
	my ($name, $dir, $clone) = @_;
	my $ended;
	for (my $i = 0; $i < $timeout * 20 && !defined $ended; $i++)
	{
		last if state_kv($dir, 'follow.phase') =~ /^(catching-up|streaming)$/;
		$ended = wait_background($clone, 0.2);
	}
	ok(!defined $ended, "$name: the changes are being applied")
	  or BAIL_OUT("$name: clone --follow ended:\n"
		  . slurp_if_exists("$tempdir/$name-clone.err"));
}

# Clone with --follow under writes, kill -9 the follower and start it
# again, cut over, verify.  Returns the follower's stderr.  The tables are
# compared row by row after the cleanup (which takes pgcrane's own table
# off the target).
sub follow_through
{
	my (%p) = @_;
	my ($name, $dir) = ($p{name}, "$tempdir/$p{name}");
	my $w1 = writes("$name-w1", $src->connstr($p{db}), 6);
	my $clone = start_background($tempdir, "$name-clone", pgcrane_path(), 'clone',
		'--follow', '--source' => $p{source}, '--target' => $p{target},
		'--dir' => $dir, '--jobs' => 2, @{ $p{opts} // [] });
	wait_streaming($name, $dir, $clone);
	$p{during}->($dir) if $p{during};
	sleep 1;
	my $pid = state_kv($dir, 'follow.pid');
	ok($pid =~ /^\d+$/ && kill('KILL', $pid), "$name: the follower is killed with SIGKILL");
	wait_background($pid, $timeout);
	my $follower = start_background($tempdir, "$name-follow", pgcrane_path(), 'follow',
		'--dir', $dir);
	is(wait_background($w1, 4 * $timeout), 0, "$name: the writes succeed");
	my ($rc, $out, $err) =
	  run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
	is($rc, 0, "$name: cutover succeeds") or diag($err);
	is(wait_background($follower, $timeout), 0, "$name: the follower ends")
	  or diag(slurp_if_exists("$tempdir/$name-follow.err"));
	($rc, $out, $err) = run_pgcrane('verify', '--source' => $src->connstr($p{db}),
		'--target' => $dst->connstr($p{db}), '--no-owner', '--no-acl');
	is($rc, 0, "$name: verify finds the target equal") or diag($out . $err);
	is(state_kv($dir, 'follow.missing_rows'), '0', "$name: every update and delete found its row");
	return slurp_if_exists("$tempdir/$name-clone.err")
	  . slurp_if_exists("$tempdir/$name-follow.err");
}

sub cleanup_ok
{
	my ($name, $db) = @_;
	my ($rc, $out, $err) = run_pgcrane('cleanup', '--dir', "$tempdir/$name");
	is($rc, 0, "$name: cleanup succeeds") or diag($err);
	tables_equal($src, $db, $dst, $db);
	return $err;
}

# ---------- tables without a replica identity ----------

make_tables('keyless');
$src->safe_psql('keyless', <<'EOSQL');
ALTER TABLE logs REPLICA IDENTITY DEFAULT;
CREATE TABLE nothing (id int PRIMARY KEY, v int);
ALTER TABLE nothing REPLICA IDENTITY NOTHING;
CREATE TABLE gone (id int NOT NULL, v int);
CREATE UNIQUE INDEX gone_id ON gone (id);
ALTER TABLE gone REPLICA IDENTITY USING INDEX gone_id;
DROP INDEX gone_id;
INSERT INTO nothing SELECT g, 0 FROM generate_series(1, 50) g;
INSERT INTO gone SELECT g, 0 FROM generate_series(1, 50) g;
UPDATE logs SET v = 1 WHERE id < 10;
DELETE FROM logs WHERE id = 11;
EOSQL

my ($rc, $out, $err) = run_pgcrane('preflight', '--follow',
	'--source' => $src->connstr('keyless'), '--target' => $dst->connstr('keyless'));
is($rc, 1, 'keyless: preflight --follow refuses tables without a replica identity');
is_deeply(
	[ sort grep { /replica identity/ } error_lines($err) ],
	[ map { "pgcrane: error: table \"public.$_\" has no replica identity: its updates and deletes cannot be followed" }
		  qw(gone logs nothing) ],
	'keyless: each table without a replica identity is named');
like($err, qr/^pgcrane: detail: \d+ (bytes|kB); \d+ updates and \d+ deletes /m,
	'keyless: with its size and write counts');
like($err, qr/^pgcrane: hint: Use --replica-identity-full to have pgcrane set REPLICA IDENTITY FULL on them/m,
	'keyless: the hint names --replica-identity-full');

($rc, $out, $err) = run_pgcrane('preflight', '--follow', '--replica-identity-full',
	'--source' => $src->connstr('keyless'), '--target' => $dst->connstr('keyless'));
is($rc, 0, 'keyless: preflight --follow --replica-identity-full passes') or diag($err);
like($err, qr/table "public\.logs" has no replica identity: pgcrane will set REPLICA IDENTITY FULL on it/,
	'keyless: preflight says what it will do');

my $log = follow_through(
	name => 'keyless', db => 'keyless',
	source => $src->connstr('keyless'), target => $dst->connstr('keyless'),
	opts => ['--replica-identity-full'],
	during => sub {
		is( $src->safe_psql('keyless',
				"SELECT string_agg(relname || '=' || relreplident::text, ',' ORDER BY relname)"
				  . " FROM pg_class WHERE relname IN ('logs', 'nothing', 'gone', 'items')"),
			'gone=f,items=d,logs=f,nothing=f',
			'keyless: exactly the tables without a replica identity are FULL during the follow');
	});
like($log, qr/set REPLICA IDENTITY FULL on table "public\.logs" on the source/,
	'keyless: the clone says what it set');
like(state_kv("$tempdir/keyless", 'source.replica_identity'), qr/^\d+ d 0$/m,
	'keyless: the work directory records what the tables had');
$err = cleanup_ok('keyless', 'keyless');
is( $src->safe_psql('keyless',
		"SELECT string_agg(relname || '=' || relreplident::text, ',' ORDER BY relname)"
		  . " FROM pg_class WHERE relname IN ('logs', 'nothing', 'gone', 'items')"),
	'gone=n,items=d,logs=d,nothing=n',
	'keyless: cleanup gives each table its replica identity back (an index identity whose index is gone is none)');
is(state_kv("$tempdir/keyless", 'source.replica_identity'), '',
	'keyless: and forgets the record');

# ---------- a source role that is not a superuser ----------

$src->safe_psql('postgres', 'CREATE ROLE app_owner LOGIN REPLICATION');
$dst->safe_psql('postgres', 'CREATE ROLE app_owner');
make_tables('managed', 'app_owner');
(my $owner_src = $src->connstr('managed')) =~ s/$/ user=app_owner/;
($rc, $out, $err) = run_pgcrane('preflight', '--follow',
	'--source' => $owner_src, '--target' => $dst->connstr('managed'));
is($rc, 0, 'managed source: preflight --follow passes for the tables\' owner') or diag($err);
like($err, qr/may not create a publication FOR ALL TABLES: pgcrane publishes the copied tables FOR TABLE/,
	'managed source: preflight says the publication is FOR TABLE');

$src->safe_psql('managed', 'CREATE TABLE foreign_owned (id int PRIMARY KEY)');
($rc, $out, $err) = run_pgcrane('preflight', '--follow',
	'--source' => $owner_src, '--target' => $dst->connstr('managed'));
is($rc, 1, 'managed source: a table the role does not own is refused');
like($err, qr/^pgcrane: error: the source role does not own every table to publish: "public\.foreign_owned"$/m,
	'managed source: and named');
$src->safe_psql('managed', 'DROP TABLE foreign_owned');

my $stopped;
$log = follow_through(
	name => 'managed', db => 'managed', source => $owner_src,
	target => $dst->connstr('managed'),
	during => sub {
		my ($dir) = @_;
		is( $src->safe_psql('managed',
				"SELECT puballtables FROM pg_publication"),
			'f', 'managed source: the publication is FOR TABLE');
		# A table the source role owns joins the publication with its rows.
		$src->safe_psql('managed', 'SET ROLE app_owner; CREATE TABLE late (id int PRIMARY KEY, v int);'
			  . ' INSERT INTO late SELECT g, 0 FROM generate_series(1, 300) g');
		ok(poll_until(sub {
				$src->safe_psql('managed', "SELECT count(*) FROM pg_publication_tables WHERE tablename = 'late'") eq '1'
			}), 'managed source: a table the role owns, created during the follow, joins the publication');
		$src->safe_psql('managed', 'SET ROLE app_owner; UPDATE late SET v = 1 WHERE id <= 100;'
			  . ' DELETE FROM late WHERE id > 250; INSERT INTO late VALUES (1000, 7)');
		ok(poll_until(sub {
				$dst->safe_psql('managed', "SELECT to_regclass('public.late') IS NOT NULL") eq 't'
				  && $dst->safe_psql('managed', 'SELECT count(*), sum(v) FROM late') eq '251|107'
			}), 'managed source: its rows from before and its changes after reach the target');
		is($src->safe_psql('managed', 'SELECT count(*) FROM pg_locks WHERE relation = \'late\'::regclass'),
			'0', 'managed source: no lock on the new table is left');

		# A table the role may not add to the publication stops the follow, named.
		$src->safe_psql('managed', 'CREATE TABLE late_foreign (id int PRIMARY KEY)');
		my $pid = state_kv($dir, 'follow.pid');
		my $rc = wait_background($pid, 4 * $timeout);
		ok(defined $rc && $rc != 0, 'managed source: a new table the role does not own stops the follow');
		$stopped = slurp_if_exists("$tempdir/managed-clone.err");
		is($dst->safe_psql('managed', "SELECT to_regclass('public.late_foreign') IS NULL"), 't',
			'managed source: and nothing of it is made on the target');
		$src->safe_psql('managed', 'DROP TABLE late_foreign');
		my $f = start_background($tempdir, 'managed-again', pgcrane_path(), 'follow',
			'--dir', $dir);
		ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, $timeout),
			'managed source: the follow goes on once the table is dropped');
		sleep 2;
	});
like($stopped, qr/^pgcrane: error: table "public\.late_foreign" created on the source during the follow cannot join publication "pgcrane_\w+": the source role does not own it$/m,
	'managed source: the stop names the new table');
like($stopped, qr/^pgcrane: hint: Have the table's owner run ALTER PUBLICATION pgcrane_\w+ ADD TABLE ONLY "public"\."late_foreign"/m,
	'managed source: with what to do');
like($stopped, qr/^pgcrane: table "public\.late" is new on the source: it joined publication "pgcrane_\w+" and its 300 rows were copied to the target$/m,
	'managed source: the table taken in is named with its rows');
cleanup_ok('managed', 'managed');
is($src->safe_psql('managed', 'SELECT count(*) FROM pg_publication'), '0',
	'managed source: cleanup drops the publication');

# ---------- a target role that is not a superuser, with the grants ----------

make_tables('granted');
$dst->safe_psql('postgres', 'CREATE ROLE tgt_app LOGIN; CREATE DATABASE granted OWNER tgt_app');
(my $app_tgt = $dst->connstr('granted')) =~ s/$/ user=tgt_app/;
my @opts = ('--no-owner', '--no-acl');
($rc, $out, $err) = run_pgcrane('preflight', '--follow', @opts,
	'--source' => $src->connstr('granted'), '--target' => $app_tgt);
is($rc, 1, 'granted target: preflight refuses a role that may not apply as a replica');
like($err, qr/^pgcrane: error: the target role may not set session_replication_role, which applying changes as a replica needs$/m,
	'granted target: the missing SET privilege is named');
my @grants = $err =~ /(GRANT [^;]+;)/g;
is(scalar(grep { /ON FUNCTION/ } @grants), 7, 'granted target: a GRANT for each of the seven origin functions');
is(scalar(grep { /SET ON PARAMETER session_replication_role/ } @grants), 1,
	'granted target: and one for session_replication_role');
$dst->safe_psql('granted', join("\n", @grants));
($rc, $out, $err) = run_pgcrane('preflight', '--follow', @opts,
	'--source' => $src->connstr('granted'), '--target' => $app_tgt);
is($rc, 0, 'granted target: preflight passes with exactly the grants it printed') or diag($err);
unlike($err, qr/follow_progress/, 'granted target: replication origins will be used');

follow_through(name => 'granted', db => 'granted', source => $src->connstr('granted'),
	target => $app_tgt, opts => \@opts);
is($dst->safe_psql('granted', "SELECT to_regnamespace('pgcrane') IS NULL"), 't',
	'granted target: no progress table');
cleanup_ok('granted', 'granted');
is($dst->safe_psql('granted', 'SELECT count(*) FROM pg_replication_origin'), '0',
	'granted target: cleanup drops the replication origin');

# ---------- a target role without the origin functions ----------

make_tables('plain');
$dst->safe_psql('postgres', <<'EOSQL');
CREATE ROLE tgt_plain LOGIN;
GRANT SET ON PARAMETER session_replication_role TO tgt_plain;
CREATE DATABASE plain OWNER tgt_plain;
EOSQL
(my $plain_tgt = $dst->connstr('plain')) =~ s/$/ user=tgt_plain/;
($rc, $out, $err) = run_pgcrane('preflight', '--follow', @opts,
	'--source' => $src->connstr('plain'), '--target' => $plain_tgt);
is($rc, 0, 'plain target: preflight passes without the origin functions') or diag($err);
like($err, qr/may not use replication origins in database "plain": the follow records its progress in table pgcrane\.follow_progress there/,
	'plain target: preflight says where the progress goes');

follow_through(name => 'plain', db => 'plain', source => $src->connstr('plain'),
	target => $plain_tgt, opts => \@opts);
# One row per apply session (--apply-jobs, by default the CPUs, at most 4).
is($dst->safe_psql('plain', 'SELECT count(*) BETWEEN 1 AND 4 FROM pgcrane.follow_progress'), 't',
	'plain target: the progress is in pgcrane.follow_progress');
is($dst->safe_psql('plain', "SELECT bool_or(lsn > '0/0') FROM pgcrane.follow_progress"), 't',
	'plain target: with an LSN');
is($dst->safe_psql('plain', 'SELECT count(*) FROM pg_replication_origin'), '0',
	'plain target: no replication origin');
cleanup_ok('plain', 'plain');
is($dst->safe_psql('plain', "SELECT to_regnamespace('pgcrane') IS NULL"), 't',
	'plain target: cleanup drops pgcrane.follow_progress and its schema');

done_testing();
