
# Copyright (c) pgcrane contributors

# Preflight catches, before anything is created, what would make a clone
# fail after it created the target database, a slot or a snapshot holder:
#  (a) a target that is a hot standby, or read-only through
#      default_transaction_read_only (per database, per role, per server);
#  (b) a target database that is a template, whatever the options;
#  (c) a target role that may not create what the restore creates, may not
#      drop the database --drop-if-exists drops, or may not create the
#      database;
#  (d) --jobs and --index-jobs beyond the free connections of a server, of
#      a role or of a database;
#  (e) a source role subject to row-level security on a table;
#  (f) owners and grantees that do not exist as roles on the target
#      (unless --no-owner / --no-acl), and roles named by policies;
#  (g) --follow with a source role that may not create a publication FOR
#      ALL TABLES, or lacks REPLICATION;
#  (h) a stray argument.
# Each case runs "pgcrane preflight" and "pgcrane clone" and checks the exit
# code, the error line, and that both servers are exactly as before with
# no snapshot holder left.  A correct setup passes and clones.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $runs = 0;

$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', <<'EOSQL');
CREATE TABLE accounts (id int PRIMARY KEY, owner text NOT NULL);
INSERT INTO accounts SELECT i, 'owner ' || i FROM generate_series(1, 300) AS i;
CREATE SCHEMA extra;
CREATE TABLE extra.notes (id int PRIMARY KEY, body text);
INSERT INTO extra.notes VALUES (1, 'one'), (2, 'two');
CREATE ROLE lim LOGIN CONNECTION LIMIT 2;
CREATE ROLE repl LOGIN REPLICATION;
GRANT USAGE ON SCHEMA extra TO lim, repl;
GRANT SELECT ON ALL TABLES IN SCHEMA public, extra TO lim, repl;
EOSQL

# Roles are global objects: those the source's privileges name exist on
# the target too, unless a case is about a missing one.
$dst->safe_psql('postgres', <<'EOSQL');
CREATE ROLE lim NOLOGIN;
CREATE ROLE repl NOLOGIN;
CREATE ROLE rls_reader NOLOGIN;
CREATE ROLE rls_bypass NOLOGIN;
EOSQL

# The snapshot holders of this test's clones (their --dir is under
# $tempdir): other pgcranes may run on the same machine.
sub own_holders
{
	my @own;
	foreach my $pid (holder_processes())
	{
		open(my $fh, '<', "/proc/$pid/cmdline") or next;
		local $/;
		my $cmd = <$fh> // '';
		close $fh;
		push @own, $pid if index($cmd, $tempdir) >= 0;
	}
	return @own;
}

# Runs preflight, then clone, with the same options; both must fail with
# exit code $rc and an error line matching $re, and change nothing on the
# nodes in @$nodes.  %o: source, target, opts (both commands), clone
# (clone only).
sub refused
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($label, $rc, $re, $nodes, %o) = @_;
	my @before = map { server_fingerprint($_) } @$nodes;
	my @holders = own_holders();

	foreach my $cmd ('preflight', 'clone')
	{
		my @args = ($cmd, '--source' => $o{source}, '--target' => $o{target},
			@{ $o{opts} // [] });
		push @args, '--dir' => "$tempdir/work" . ++$runs, @{ $o{clone} // [] }
		  if $cmd eq 'clone';
		my ($got, $out, $err) = run_pgcrane(@args);
		is($got, $rc, "$label: $cmd exits $rc");
		ok((grep { $_ =~ $re } error_lines($err)),
			"$label: $cmd names the problem")
		  or diag("expected an error line matching $re, stderr was:\n$err");
	}
	is_deeply([ map { server_fingerprint($_) } @$nodes ],
		\@before, "$label: both servers are as before");
	is_deeply([ own_holders() ], \@holders,
		"$label: no snapshot holder is left");
	return;
}

my $app = $src->connstr('app');

# ---------- (a) a target that cannot be written ----------

{
	$src->backup('for_standby');
	my $standby = PostgreSQL::Test::Cluster->new('standby');
	$standby->init_from_backup($src, 'for_standby', has_streaming => 1);
	$standby->start;
	refused('hot standby', 1,
		qr/^pgcrane: error: target server is a hot standby \(in recovery\): nothing can be written to it$/,
		[ $src, $standby ],
		source => $app, target => $standby->connstr('newdb'));
	$standby->stop;
}

$dst->safe_psql('postgres', <<'EOSQL');
CREATE DATABASE ro_db;
ALTER DATABASE ro_db SET default_transaction_read_only = on;
CREATE ROLE ro_user LOGIN SUPERUSER;
ALTER ROLE ro_user SET default_transaction_read_only = on;
EOSQL
refused('read-only database', 1,
	qr/^pgcrane: error: target database "ro_db" is read-only: default_transaction_read_only is on$/,
	[ $src, $dst ],
	source => $app, target => $dst->connstr('ro_db'));
refused('read-only role', 1,
	qr/^pgcrane: error: target database "newdb" cannot be created: default_transaction_read_only is on in database "postgres"$/,
	[ $src, $dst ],
	source => $app, target => $dst->connstr('newdb') . ' user=ro_user');
refused('read-only in the connection options', 1,
	qr/^pgcrane: error: target database "newdb" cannot be created: default_transaction_read_only is on/,
	[ $src, $dst ],
	source => $app,
	target => $dst->connstr('newdb') . ' options=-cdefault_transaction_read_only=on');

# ---------- (b) templates ----------

refused('template1', 1,
	qr/^pgcrane: error: target database "template1" is a template database$/,
	[ $src, $dst ],
	source => $app, target => $dst->connstr('template1'),
	opts => ['--drop-if-exists']);
refused('template0', 1,
	qr/^pgcrane: error: target database "template0" is a template database$/,
	[ $src, $dst ],
	source => $app, target => $dst->connstr('template0'),
	opts => ['--drop-if-exists']);

# ---------- (c) the target role's rights ----------

$dst->safe_psql('postgres', <<'EOSQL');
CREATE ROLE plain LOGIN;
CREATE ROLE creator LOGIN CREATEDB;
CREATE DATABASE empty_db;
CREATE DATABASE full_db;
EOSQL
$dst->safe_psql('full_db', 'CREATE TABLE keep (id int); INSERT INTO keep VALUES (1)');

{
	my @nodes = ($src, $dst);
	my ($rc, $out, $err) = run_pgcrane('preflight', '--source' => $app,
		'--target' => $dst->connstr('empty_db') . ' user=plain', '-O', '-x');
	my @errors = error_lines($err);
	is_deeply(
		[ sort @errors ],
		[
			'pgcrane: error: the target role lacks CREATE on target database "empty_db": the restore creates schemas and extensions there',
			'pgcrane: error: the target role lacks CREATE or USAGE on schema "public" of target database "empty_db": the restore creates objects in it',
		],
		'no CREATE on the database and on public: one line each');
	refused('no CREATE on the target database', 1,
		qr/^pgcrane: error: the target role lacks CREATE on target database "empty_db"/,
		\@nodes, source => $app,
		target => $dst->connstr('empty_db') . ' user=plain', opts => [ '-O', '-x' ]);
	refused('--drop-if-exists by a role that does not own the database', 1,
		qr/^pgcrane: error: target database "full_db" cannot be dropped: the target role is neither its owner \("[^"]+"\) nor a superuser$/,
		\@nodes, source => $app,
		target => $dst->connstr('full_db') . ' user=creator',
		opts => [ '--drop-if-exists', '-O', '-x' ]);
	refused('no CREATEDB for a database that does not exist', 1,
		qr/^pgcrane: error: target database "newdb" does not exist and the target role may not create databases$/,
		\@nodes, source => $app,
		target => $dst->connstr('newdb') . ' user=plain', opts => [ '-O', '-x' ]);
	$src->safe_psql('postgres', 'CREATE DATABASE super_only');
	$src->safe_psql('super_only', <<'EOSQL');
CREATE FUNCTION my_lower(text) RETURNS text LANGUAGE internal STRICT AS 'lower';
CREATE FUNCTION on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
CREATE EVENT TRIGGER watch_ddl ON ddl_command_end EXECUTE FUNCTION on_ddl();
EOSQL
	($rc, $out, $err) = run_pgcrane('preflight',
		'--source' => $src->connstr('super_only'),
		'--target' => $dst->connstr('super_only') . ' user=creator', '-O', '-x');
	is_deeply(
		[ error_lines($err) ],
		[
			'pgcrane: error: event trigger "watch_ddl" can only be created by a superuser on the target server',
			'pgcrane: error: function "public.my_lower(text)" in untrusted language "internal" can only be created by a superuser on the target server',
		],
		'objects only a superuser may create: one line each');
	refused('objects only a superuser may create', 1,
		qr/^pgcrane: error: event trigger "watch_ddl" can only be created by a superuser on the target server$/,
		\@nodes, source => $src->connstr('super_only'),
		target => $dst->connstr('super_only') . ' user=creator', opts => [ '-O', '-x' ]);
	refused('owners the target role may not give objects to', 1,
		qr/^pgcrane: error: the target role may not make role "[^"]+" the owner of objects: it is not a member of it$/,
		\@nodes, source => $app,
		target => $dst->connstr('newdb') . ' user=creator');
}

# ---------- (d) connections ----------

{
	my $small = new_target_node('small');
	$small->append_conf('postgresql.conf', "max_connections = 8\n");
	$small->restart;
	# 8 less 3 reserved for superusers: 5 free; 3 + 3 workers need 6.
	refused('target server with too few connections', 1,
		qr/^pgcrane: error: --jobs 3 and --index-jobs 3 need 6 connections to the target server, but only 5 are free$/,
		[ $src, $small ],
		source => $app, target => $small->connstr('app'),
		opts => [ '--jobs' => 3, '--index-jobs' => 3 ]);
	my ($rc, $out, $err) = run_pgcrane('preflight', '--source' => $app,
		'--target' => $small->connstr('app'), '--jobs' => 3, '--index-jobs' => 3);
	like($err, qr/^pgcrane: hint: Use --jobs 2 --index-jobs 2 or lower, or raise max_connections\.$/m,
		'the hint gives the --jobs that fit');
	($rc, $out, $err) = run_pgcrane('preflight', '--source' => $app,
		'--target' => $small->connstr('app'), '--jobs' => 2, '--index-jobs' => 2,
		'-O', '-x');
	is($rc, 0, 'preflight passes with the --jobs that fit') or diag($err);
	$small->stop;
}

# Source and target on the same server: their needs add up.  16 copy
# workers and the holder fit in 47 free connections, and 16 + 16 workers
# on the target too, but not all 49 together.
refused('source and target on the same server', 1,
	qr/^pgcrane: error: --jobs 16 and --index-jobs 16 need 49 connections to the server \(the source and the target are the same server\), but only \d+ are free$/,
	[$src],
	source => $app, target => $src->connstr('same_server'),
	opts => [ '--jobs' => 16, '--index-jobs' => 16 ]);

# The source role "lim" may open 2 connections: --jobs 2 needs 3 (the
# copy workers and the snapshot holder).
refused('source role connection limit', 1,
	qr/^pgcrane: error: --jobs 2 needs 3 connections as role "lim" on the source server, but its connection limit \(2\) leaves 2$/,
	[ $src, $dst ],
	source => "$app user=lim", target => $dst->connstr('newdb'),
	opts => [ '--jobs' => 2 ]);

$dst->safe_psql('postgres', <<'EOSQL');
CREATE ROLE dbowner LOGIN;
CREATE DATABASE limited OWNER dbowner CONNECTION LIMIT 2;
EOSQL
refused('target database connection limit', 1,
	qr/^pgcrane: error: --jobs 2 and --index-jobs 1 need 3 connections to database "limited" on the target server, but its connection limit \(2\) leaves 2$/,
	[ $src, $dst ],
	source => $app, target => $dst->connstr('limited') . ' user=dbowner',
	opts => [ '--jobs' => 2, '--index-jobs' => 1, '-O', '-x' ]);

# ---------- (e) row-level security on the source ----------

$src->safe_psql('postgres', 'CREATE DATABASE rls');
$src->safe_psql('rls', <<'EOSQL');
CREATE TABLE open_t (id int PRIMARY KEY);
CREATE TABLE secret_t (id int PRIMARY KEY, v text);
INSERT INTO secret_t VALUES (1, 'a'), (2, 'b');
ALTER TABLE secret_t ENABLE ROW LEVEL SECURITY;
CREATE POLICY only_one ON secret_t USING (id = 1);
CREATE ROLE rls_reader LOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO rls_reader;
CREATE ROLE rls_bypass LOGIN BYPASSRLS;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO rls_bypass;
EOSQL
refused('row-level security on the source', 1,
	qr/^pgcrane: error: table "public\.secret_t" has row-level security that applies to the source role: its rows cannot all be copied$/,
	[ $src, $dst ],
	source => $src->connstr('rls') . ' user=rls_reader', target => $dst->connstr('rls'));
{
	my ($rc, $out, $err) = run_pgcrane('preflight',
		'--source' => $src->connstr('rls') . ' user=rls_bypass',
		'--target' => $dst->connstr('rls'));
	is($rc, 0, 'a source role with BYPASSRLS passes') or diag($err);
}

# ---------- (f) roles missing on the target ----------

$src->safe_psql('postgres', 'CREATE DATABASE roles');
$src->safe_psql('roles', <<'EOSQL');
CREATE ROLE app_owner NOLOGIN;
CREATE ROLE app_reader NOLOGIN;
CREATE ROLE app_auditor NOLOGIN;
CREATE TABLE owned (id int PRIMARY KEY);
ALTER TABLE owned OWNER TO app_owner;
GRANT SELECT ON owned TO app_reader;
EOSQL
{
	my ($rc, $out, $err) = run_pgcrane('preflight',
		'--source' => $src->connstr('roles'), '--target' => $dst->connstr('roles'));
	is($rc, 1, 'missing roles: preflight exits 1');
	is_deeply(
		[ error_lines($err) ],
		[
			'pgcrane: error: role "app_owner" owns objects on the source but does not exist on the target server',
			'pgcrane: error: role "app_reader" holds privileges on the source but does not exist on the target server',
		],
		'missing roles: one line per role');
	like($err, qr/^pgcrane: hint: .*--no-owner --no-acl/m, 'missing roles: the hint names --no-owner --no-acl');
	($rc, $out, $err) = run_pgcrane('preflight', '--source' => $src->connstr('roles'),
		'--target' => $dst->connstr('roles'), '--no-owner');
	is_deeply([ error_lines($err) ],
		[ 'pgcrane: error: role "app_reader" holds privileges on the source but does not exist on the target server' ],
		'--no-owner: owners need not exist');
	($rc, $out, $err) = run_pgcrane('preflight', '--source' => $src->connstr('roles'),
		'--target' => $dst->connstr('roles'), '-O', '-x');
	is($rc, 0, '--no-owner --no-acl: the missing roles do not matter') or diag($err);
}
refused('owner missing on the target', 1,
	qr/^pgcrane: error: role "app_owner" owns objects on the source but does not exist on the target server$/,
	[ $src, $dst ],
	source => $src->connstr('roles'), target => $dst->connstr('roles'));
$src->safe_psql('roles', <<'EOSQL');
ALTER TABLE owned ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit ON owned TO app_auditor USING (true);
EOSQL
refused('role of a policy missing on the target', 1,
	qr/^pgcrane: error: role "app_auditor" is named by a policy or user mapping on the source but does not exist on the target server$/,
	[ $src, $dst ],
	source => $src->connstr('roles'), target => $dst->connstr('roles'),
	opts => [ '-O', '-x' ]);

# ---------- (g) --follow ----------

refused('--follow without the right to publish the tables', 1,
	qr/^pgcrane: error: the source role does not own every table to publish: "extra\.notes", "public\.accounts"$/,
	[ $src, $dst ],
	source => "$app user=repl", target => $dst->connstr('newdb'),
	opts => ['--follow']);

refused('--follow without REPLICATION', 1,
	qr/^pgcrane: error: the source role may not replicate: it needs the REPLICATION attribute$/,
	[ $src, $dst ],
	source => "$app user=lim", target => $dst->connstr('newdb'),
	opts => [ '--follow', '--jobs' => 1 ]);

# ---------- (h) a stray argument ----------

{
	my ($rc, $out, $err) = run_pgcrane('preflight', '--source' => $app,
		'--target' => $dst->connstr('newdb'), 'stray');
	is($rc, 2, 'a stray argument: exit 2');
	is_deeply([ error_lines($err) ],
		[ 'pgcrane: error: too many command-line arguments (first is "stray")' ],
		'a stray argument is refused');
}

# ---------- a correct setup ----------

{
	my ($rc, $out, $err) = run_pgcrane('preflight', '--source' => $app,
		'--target' => $dst->connstr('good'), '--jobs' => 2);
	is($rc, 0, 'a correct setup passes preflight') or diag($err);
	clone_ok('a correct setup clones', '--source' => $app,
		'--target' => $dst->connstr('good'), '--jobs' => 2,
		'--dir' => "$tempdir/work-good");
	databases_equal($src, 'app', $dst, 'good');
	stop_snapshot_holder("$tempdir/work-good");
}

done_testing();
