
# Copyright (c) pgcrane contributors

# What is checked before anything is copied, and what must never happen:
#  (a) a target database that is not empty is refused and left untouched,
#      unless --drop-if-exists is given;
#  (b) an extension used on the source but not installed on the target
#      server is reported;
#  (c) a wrong password is a connection error on one line;
#  (d) a good pair of servers passes, also when given by PGCRANE_SOURCE
#      and PGCRANE_TARGET;
#  (e) a password given in a connection string appears neither in the
#      output nor in the work directory.

use strict;
use warnings;

use File::Find;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', <<'EOSQL');
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL, balance numeric NOT NULL);
INSERT INTO accounts SELECT i, 'owner ' || i, i * 10.5 FROM generate_series(1, 500) AS i;
CREATE SEQUENCE accounts_seq;
SELECT setval('accounts_seq', 500);
CREATE VIEW rich AS SELECT * FROM accounts WHERE balance > 1000;
EOSQL

# A full dump (schema and data) of a target database, to show that a
# refused clone changed nothing.  Comments and the \restrict lines, whose
# key is random, are left out.
sub full_dump
{
	my ($node, $dbname) = @_;
	my ($out, $err);
	IPC::Run::run([ 'pg_dump', '-d', $node->connstr($dbname) ],
		'<', \undef, '>', \$out, '2>', \$err)
	  or BAIL_OUT("pg_dump failed: $err");
	return join("\n", grep { !/^--/ && !/^\\(un)?restrict / } split /\n/, $out);
}

#
# (a) A target database that is not empty.
#
$dst->safe_psql('postgres', 'CREATE DATABASE app');
$dst->safe_psql('app', <<'EOSQL');
CREATE TABLE precious (id int PRIMARY KEY, v text);
INSERT INTO precious VALUES (1, 'do not lose me'), (2, 'me neither');
EOSQL
my $before = full_dump($dst, 'app');

{
	my ($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => $src->connstr('app'),
		'--target' => $dst->connstr('app'));
	is($rc, 1, 'preflight: non-empty target fails the check (exit 1)');
	like($out . $err, qr/target database "app" is not empty/,
		'preflight: names the non-empty target database');

	($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => $src->connstr('app'),
		'--target' => $dst->connstr('app'),
		'--dir' => "$tempdir/work-refused");
	is($rc, 1, 'clone into a non-empty target is refused (exit 1)');
	my @errors = error_lines($err);
	like($errors[0] // '', qr/^pgcrane: error: target database "app" is not empty/,
		'clone: error says the target is not empty')
	  or diag("stderr was:\n$err");
	is(full_dump($dst, 'app'), $before,
		'refused clone left the target database unchanged');

	($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => $src->connstr('app'),
		'--target' => $dst->connstr('app'),
		'--drop-if-exists');
	is($rc, 0, 'preflight --drop-if-exists accepts the non-empty target')
	  or diag("stderr was:\n$err");

	clone_ok(
		'clone --drop-if-exists replaces the non-empty target',
		'--source' => $src->connstr('app'),
		'--target' => $dst->connstr('app'),
		'--drop-if-exists',
		'--dir' => "$tempdir/work-dropped");
	is($dst->safe_psql('app', q{SELECT to_regclass('public.precious') IS NULL}),
		't', 'the old contents of the target are gone');
	databases_equal($src, 'app', $dst, 'app');
}

#
# (b) An extension used on the source that the target server lacks.
#
# Both servers here run the same PostgreSQL installation, so the target
# is started from a copy of it that lacks hstore: the same binaries and
# share files, without hstore's control and script files, as on a server
# where the package that ships hstore is not installed.  The source uses
# hstore for real.
SKIP:
{
	my $have_hstore = $src->safe_psql('postgres',
		q{SELECT count(*) FROM pg_available_extensions WHERE name = 'hstore'});
	skip 'hstore is not available in this PostgreSQL installation', 6
	  unless $have_hstore eq '1';

	my ($inst, $why) = install_without_extension('hstore');
	skip "cannot build an installation without hstore: $why", 6
	  unless defined $inst;

	my $bare = new_target_node('target_without_hstore', install_path => $inst);
	is(
		$bare->safe_psql('postgres',
			q{SELECT count(*) FROM pg_available_extensions WHERE name = 'hstore'}),
		'0',
		'the second target server really lacks hstore');

	$src->safe_psql('postgres', 'CREATE DATABASE ext');
	$src->safe_psql('ext', <<'EOSQL');
CREATE EXTENSION hstore;
CREATE TABLE settings (id int PRIMARY KEY, attrs hstore);
INSERT INTO settings VALUES (1, 'a=>1, b=>2');
EOSQL

	my ($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => $src->connstr('ext'),
		'--target' => $bare->connstr('ext'));
	is($rc, 1, 'preflight: missing extension fails the check (exit 1)');
	like($out . $err,
		qr/extension "hstore" .*not available on the target/,
		'preflight: names the missing extension');

	($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => $src->connstr('ext'),
		'--target' => $bare->connstr('ext'),
		'--dir' => "$tempdir/work-ext");
	is($rc, 1, 'clone: missing extension is refused (exit 1)');
	like($err, qr/extension "hstore" .*not available on the target/,
		'clone: names the missing extension');
	ok(!database_exists($bare, 'ext'),
		'clone refused before creating the target database');

	$bare->stop;
}

#
# (c) A wrong password.
#
# The source requires scram-sha-256 for role "alice" on local connections;
# everything else stays trusted so the test itself can connect.
my $secret = 'S3cret-pass-phrase-8271';
$src->safe_psql('postgres', <<"EOSQL");
SET password_encryption = 'scram-sha-256';
CREATE ROLE alice LOGIN SUPERUSER PASSWORD '$secret';
EOSQL
$dst->safe_psql('postgres', <<"EOSQL");
SET password_encryption = 'scram-sha-256';
CREATE ROLE alice LOGIN SUPERUSER PASSWORD '$secret';
EOSQL
foreach my $node ($src, $dst)
{
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $old = slurp_file($hba);
	open(my $fh, '>', $hba) or die "could not write $hba: $!";
	print $fh "local all alice scram-sha-256\n";
	print $fh $old;
	close $fh;
	$node->reload;
}

{
	my $host = $src->host;
	my $port = $src->port;
	local $ENV{PGPASSWORD} = 'not-the-password';
	# The target is fine (its database does not exist yet): the password
	# is the only problem.
	my ($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => "host=$host port=$port dbname=app user=alice",
		'--target' => $dst->connstr('app_wrong_password'));
	is($rc, 2, 'wrong password: exit code 2');
	my @lines = split /\n/, $err;
	is(scalar(@lines), 1, 'wrong password: one line on stderr')
	  or diag("stderr was:\n$err");
	like($lines[0] // '',
		qr/^pgcrane: error: could not connect to source server: .*password authentication failed/,
		'wrong password: says the source refused the password');

	($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => "host=$host port=$port dbname=app user=alice",
		'--target' => $dst->connstr('app_wrong_password'),
		'--dir' => "$tempdir/work-wrong-password");
	is($rc, 2, 'clone with a wrong password: exit code 2');
	like($err, qr/password authentication failed/,
		'clone with a wrong password: says so');
	ok(!database_exists($dst, 'app_wrong_password'),
		'clone with a wrong password created nothing on the target');
}

#
# (d) A good pair passes the check, given by options or by environment.
#
{
	$src->safe_psql('postgres', 'CREATE DATABASE fresh');
	$src->safe_psql('fresh',
		'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1), (2)');

	my ($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => $src->connstr('fresh'),
		'--target' => $dst->connstr('fresh'));
	is($rc, 0, 'preflight on a good pair exits 0') or diag("stderr was:\n$err");
	ok(!database_exists($dst, 'fresh'),
		'preflight did not create the target database');

	local $ENV{PGCRANE_SOURCE} = $src->connstr('fresh');
	local $ENV{PGCRANE_TARGET} = $dst->connstr('fresh');
	($rc, $out, $err) = run_pgcrane('preflight');
	is($rc, 0, 'preflight with PGCRANE_SOURCE and PGCRANE_TARGET exits 0')
	  or diag("stderr was:\n$err");

	($rc, $out, $err) = run_pgcrane('preflight', '--json');
	is($rc, 0, 'preflight --json exits 0');
	my $report = eval { JSON::PP::decode_json($out) };
	ok(ref $report eq 'HASH', 'preflight --json prints one JSON object')
	  or diag("stdout was:\n$out");
}

#
# (e) A password in the connection strings stays secret.
#
{
	my $workdir = "$tempdir/work-secret";
	my $src_conn = sprintf("host=%s port=%s dbname=app user=alice password=%s",
		$src->host, $src->port, $secret);
	my $dst_uri = sprintf("postgresql://alice:%s@/secretcopy?host=%s&port=%s",
		$secret, $dst->host, $dst->port);
	local $ENV{PGPASSWORD};
	delete $ENV{PGPASSWORD};

	my ($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => $src_conn,
		'--target' => $dst_uri,
		'--json',
		'--dir' => $workdir);
	is($rc, 0, 'clone with passwords in the connection strings succeeds')
	  or diag("stderr was:\n$err");
	unlike($out, qr/\Q$secret\E/, 'the password is not on stdout');
	unlike($err, qr/\Q$secret\E/, 'the password is not on stderr');

	my @files;
	find(sub { push @files, $File::Find::name if -f $_ }, $workdir)
	  if -d $workdir;
	ok(scalar(grep { m{/state\.db$} } @files), 'state.db was written');
	my @leaks = grep { index(slurp_bytes($_), $secret) >= 0 } @files;
	is_deeply(\@leaks, [], 'the password is in no file of the work directory');

	databases_equal($src, 'app', $dst, 'secretcopy');

	# A failing run prints its connection string in no message either.
	($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => $src_conn =~ s/dbname=app/dbname=no_such_db/r,
		'--target' => $dst_uri,
		'--dir' => "$tempdir/work-secret-2");
	is($rc, 2, 'clone from a missing source database fails (exit 2)');
	like($err, qr/no_such_db/, 'the error names the missing database');
	unlike($out . $err, qr/\Q$secret\E/, 'the password is not in the error');
}

done_testing();
