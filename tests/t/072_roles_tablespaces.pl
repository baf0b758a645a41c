
# Copyright (c) pgcrane contributors

# Roles and tablespaces, which live outside the database:
#  (a) preflight names the roles the target lacks and offers --roles or
#      --no-owner --no-acl;
#  (b) clone --roles creates the owners, grantees, policy and
#      default-privilege roles and the roles they are members of, with
#      their attributes, settings, memberships and passwords (a login with
#      the password works on the target); roles already on the target are
#      left untouched and reported; no verifier appears in any output or
#      file of the work directory;
#  (c) a target role with CREATEROLE but not SUPERUSER: the attributes it
#      cannot give are left out and named; a source role that cannot read
#      pg_authid: the roles that get no password are named;
#  (d) --roles=all creates every role of the source but the reserved ones
#      (rds_*, cloudsql*, pg_*), which are listed;
#  (e) preflight names a tablespace used on the source that the target
#      lacks; --tablespace-map moves tables, partitioned tables,
#      materialized views and indexes; --no-tablespaces puts everything in
#      the default tablespace.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $runs = 0;

$src->safe_psql('postgres', <<'EOSQL');
SET password_encryption = 'scram-sha-256';
CREATE ROLE app_base NOLOGIN;
CREATE ROLE app_group NOLOGIN IN ROLE app_base;
CREATE ROLE app_owner NOLOGIN CREATEDB;
ALTER ROLE app_owner SET search_path = app, public;
ALTER ROLE app_owner SET work_mem = '8MB';
CREATE ROLE app_reader LOGIN PASSWORD 'reader-secret' CONNECTION LIMIT 5
  VALID UNTIL '2099-01-01 00:00:00+00';
GRANT app_group TO app_reader WITH ADMIN OPTION;
CREATE ROLE app_power LOGIN PASSWORD 'power-secret' REPLICATION BYPASSRLS CREATEDB;
CREATE ROLE app_auditor NOLOGIN NOINHERIT;
CREATE ROLE app_defacl NOLOGIN;
CREATE ROLE app_existing LOGIN CREATEDB;
CREATE ROLE app_unused NOLOGIN;
CREATE ROLE rds_superuser NOLOGIN;
CREATE ROLE cloudsqladmin NOLOGIN;
GRANT rds_superuser TO app_unused;
CREATE ROLE src_reader LOGIN BYPASSRLS IN ROLE pg_monitor;
CREATE DATABASE app;
EOSQL
$src->safe_psql('app', <<'EOSQL');
CREATE SCHEMA app AUTHORIZATION app_owner;
GRANT USAGE ON SCHEMA app TO app_reader, src_reader;
CREATE TABLE app.accounts (id int PRIMARY KEY, who text);
INSERT INTO app.accounts SELECT i, 'who ' || i FROM generate_series(1, 200) AS i;
ALTER TABLE app.accounts OWNER TO app_owner;
GRANT SELECT ON app.accounts TO app_reader, app_power;
GRANT UPDATE ON app.accounts TO app_existing;
GRANT SELECT ON app.accounts TO src_reader;
ALTER TABLE app.accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit ON app.accounts FOR SELECT TO app_auditor USING (true);
ALTER DEFAULT PRIVILEGES FOR ROLE app_owner IN SCHEMA app GRANT SELECT ON TABLES TO app_defacl;
EOSQL

# app_existing is there already, with other attributes: it stays so.
$dst->safe_psql('postgres', <<'EOSQL');
CREATE ROLE app_existing NOLOGIN;
CREATE ROLE creator LOGIN CREATEROLE CREATEDB;
EOSQL

# Only app_reader logs in with a password on the target.
{
	my $hba = $dst->data_dir . '/pg_hba.conf';
	my $old = slurp_file($hba);
	open(my $fh, '>', $hba) or die "could not write $hba: $!";
	print $fh "local all app_reader scram-sha-256\nhost all app_reader 127.0.0.1/32 scram-sha-256\n$old";
	close $fh;
	$dst->reload;
}

my $role_sql = <<'EOSQL';
SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
  rolreplication, rolbypassrls, rolconnlimit, rolvaliduntil
FROM pg_roles WHERE rolname ~ '^app_' AND rolname <> 'app_existing' ORDER BY 1
EOSQL
my $settings_sql = <<'EOSQL';
SELECT r.rolname, d.setconfig FROM pg_db_role_setting d
JOIN pg_roles r ON r.oid = d.setrole WHERE d.setdatabase = 0 ORDER BY 1
EOSQL
my $members_sql = <<'EOSQL';
SELECT g.rolname, m.rolname, am.admin_option FROM pg_auth_members am
JOIN pg_roles g ON g.oid = am.roleid JOIN pg_roles m ON m.oid = am.member
WHERE m.rolname ~ '^app_' ORDER BY 2, 1
EOSQL
my $owners_sql = <<'EOSQL';
SELECT c.relname, c.relowner::regrole, c.relacl::text FROM pg_class c
WHERE c.relname = 'accounts' AND c.relkind = 'r'
UNION ALL SELECT 'defacl', defaclrole::regrole, defaclacl::text FROM pg_default_acl
UNION ALL SELECT polname, NULL, polroles::regrole[]::text FROM pg_policy
EOSQL

sub drop_app_roles
{
	$dst->safe_psql('postgres', <<'EOSQL');
DO $$
DECLARE r text;
BEGIN
  FOR r IN SELECT rolname FROM pg_roles WHERE rolname ~ '^app_' AND rolname <> 'app_existing'
  LOOP EXECUTE format('DROP ROLE %I', r); END LOOP;
END $$;
EOSQL
}

sub files_under
{
	my ($dir) = @_;
	my @files;
	find(sub { push @files, $File::Find::name if -f $_ }, $dir);
	return @files;
}

my ($verifier) = $src->safe_psql('postgres',
	"SELECT rolpassword FROM pg_authid WHERE rolname = 'app_reader'");
like($verifier, qr/^SCRAM-SHA-256\$/, 'the source keeps a SCRAM verifier');

# ---------- (a) preflight without --roles ----------
{
	my ($rc, $out, $err) = run_pgcrane('preflight',
		'--source' => $src->connstr('app'), '--target' => $dst->connstr('app'));
	is($rc, 1, 'missing roles: preflight exits 1');
	like($err, qr/^pgcrane: error: role "app_owner" owns objects on the source but does not exist on the target server$/m,
		'missing roles: the owner is named');
	like($err, qr/^pgcrane: error: role "app_auditor" is named by a policy/m,
		'missing roles: the policy role is named');
	like($err, qr/^pgcrane: hint: Use --roles to create them/m, 'missing roles: the hint offers --roles');

	($rc, $out, $err) = run_pgcrane('preflight', '--roles',
		'--source' => $src->connstr('app'), '--target' => $dst->connstr('app'));
	is($rc, 0, 'preflight --roles passes') or diag($err);
	like($err, qr/roles will be created: "app_auditor", "app_base", "app_defacl", "app_group", "app_owner", "app_power", "app_reader", "src_reader"$/m,
		'preflight --roles lists the roles it will create, members of included');
	unlike($err, qr/app_unused/, 'preflight --roles leaves out the roles the database does not need');
}

# ---------- (b) clone --roles as a superuser ----------
{
	my $dir = "$tempdir/run" . ++$runs;
	my ($rc, $out, $err) = clone_ok('clone --roles (superuser target)',
		'--source' => $src->connstr('app'), '--target' => $dst->connstr('app'),
		'--dir' => $dir, '--roles', '--jobs' => 2);
	is($dst->safe_psql('postgres', $role_sql),
		join("\n", grep { !/app_unused/ } split /\n/, $src->safe_psql('postgres', $role_sql)),
		'roles: the attributes are the source\'s');
	is($dst->safe_psql('postgres', $settings_sql), $src->safe_psql('postgres', $settings_sql),
		'roles: the settings are the source\'s');
	is($dst->safe_psql('postgres', $members_sql),
		join("\n", grep { !/app_unused/ } split /\n/, $src->safe_psql('postgres', $members_sql)),
		'roles: the memberships are the source\'s');
	is($dst->safe_psql('app', $owners_sql), $src->safe_psql('app', $owners_sql),
		'roles: owner, privileges, default privileges and policy restored');
	is($dst->safe_psql('postgres', "SELECT rolcanlogin FROM pg_roles WHERE rolname = 'app_existing'"),
		'f', 'an existing role is left untouched');
	like($err, qr/roles exist on the target server and are left untouched: "app_existing"/,
		'the existing role is reported');
	is($dst->safe_psql('postgres', "SELECT count(*) FROM pg_roles WHERE rolname = 'app_unused'"),
		'0', 'a role the database does not need is not created');

	my ($lrc, $lout, $lerr);
	{
		local $ENV{PGPASSWORD} = 'reader-secret';
		$lrc = IPC::Run::run([ 'psql', '-X', '-At', '-d', $dst->connstr('app') . ' user=app_reader',
				'-c', "SELECT current_user, has_table_privilege('app.accounts', 'SELECT')" ],
			'<', \undef, '>', \$lout, '2>', \$lerr);
	}
	ok($lrc, 'app_reader logs in on the target with its password') or diag($lerr);
	is($lout, "app_reader|t\n", 'app_reader may read its table on the target');
	{
		local $ENV{PGPASSWORD} = 'wrong';
		ok(!IPC::Run::run([ 'psql', '-X', '-At', '-d', $dst->connstr('app') . ' user=app_reader',
				'-c', 'SELECT 1' ], '<', \undef, '>', \$lout, '2>', \$lerr),
			'a wrong password is refused: the password is checked');
	}

	my ($salt) = $verifier =~ /\$([^:]+):/;
	unlike("$out$err", qr/\Q$salt\E|SCRAM-SHA-256/, 'no verifier in the output');
	my @leaks = grep { index(slurp_file($_), $salt) >= 0 || slurp_file($_) =~ /SCRAM-SHA-256\$/ }
	  files_under($dir);
	is_deeply(\@leaks, [], 'no verifier in any file of the work directory');

	$dst->safe_psql('postgres', 'DROP DATABASE app');
	drop_app_roles();
}

# ---------- (c) a CREATEROLE target and a source without pg_authid ----------
{
	my $dir = "$tempdir/run" . ++$runs;
	my ($rc, $out, $err) = run_pgcrane('preflight', '--roles',
		'--source' => $src->connstr('app') . ' user=src_reader',
		'--target' => $dst->connstr('app') . ' user=creator');
	is($rc, 0, 'preflight --roles with a CREATEROLE target passes') or diag($err);
	like($err, qr/^pgcrane: warning: role "app_power" will be created without REPLICATION BYPASSRLS: only a superuser may grant them$/m,
		'preflight says which attributes will be left out');

	($rc, $out, $err) = clone_ok('clone --roles (CREATEROLE target, source without pg_authid)',
		'--source' => $src->connstr('app') . ' user=src_reader',
		'--target' => $dst->connstr('app') . ' user=creator',
		'--dir' => $dir, '--roles', '--jobs' => 2);
	like($err, qr/^pgcrane: warning: role "app_power" was created without REPLICATION BYPASSRLS/m,
		'the attributes left out are named');
	like($err, qr/^pgcrane: warning: roles: 2 login roles get no password \(pg_authid is not readable on the source\): "app_power", "app_reader"$/m,
		'the roles without a password are named');
	is($dst->safe_psql('postgres',
			"SELECT rolreplication, rolbypassrls, rolcreatedb, rolcanlogin FROM pg_roles WHERE rolname = 'app_power'"),
		'f|f|t|t', 'app_power has every attribute but those');
	is($dst->safe_psql('postgres', "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'app_reader'"),
		't', 'app_reader has no password');
	is($dst->safe_psql('app', $owners_sql), $src->safe_psql('app', $owners_sql),
		'CREATEROLE target: owner, privileges, default privileges and policy restored');
	is($dst->safe_psql('postgres', $settings_sql), $src->safe_psql('postgres', $settings_sql),
		'CREATEROLE target: the settings are the source\'s');
	$dst->safe_psql('postgres', 'DROP DATABASE app');
	drop_app_roles();
}

# ---------- (c1) a clone that fails before its first row drops the roles it created ----------
{
	# Only a superuser may create an operator class, which preflight does
	# not know: the restore fails on the CREATEROLE target.
	$src->safe_psql('postgres', 'CREATE DATABASE opc');
	$src->safe_psql('opc', <<'EOSQL');
CREATE TABLE owned (id int PRIMARY KEY);
ALTER TABLE owned OWNER TO app_owner;
CREATE OPERATOR CLASS int4_rev_ops FOR TYPE int4 USING btree AS
  OPERATOR 1 >, OPERATOR 2 >=, OPERATOR 3 =, OPERATOR 4 <=, OPERATOR 5 <,
  FUNCTION 1 btint4cmp(int4, int4);
ALTER OPERATOR CLASS int4_rev_ops USING btree OWNER TO app_owner;
ALTER OPERATOR FAMILY int4_rev_ops USING btree OWNER TO app_owner;
EOSQL
	my $dir = "$tempdir/run" . ++$runs;
	my ($rc, $out, $err) = run_pgcrane('clone',
		'--source' => $src->connstr('opc'), '--target' => $dst->connstr('opc') . ' user=creator',
		'--dir' => $dir, '--roles');
	is($rc, 2, 'a restore that fails after --roles: clone exits 2');
	like($err, qr/^pgcrane: dropped role "app_owner", created by this run$/m,
		'the roles it created are dropped');
	is($dst->safe_psql('postgres', "SELECT string_agg(rolname, ',') FROM pg_roles WHERE rolname ~ '^app_'"),
		'app_existing', 'only the role that was there before is left');
	$src->safe_psql('postgres', 'DROP DATABASE opc');
}

# ---------- (c2) a target role that may not create roles ----------
{
	$dst->safe_psql('postgres', 'CREATE ROLE plain LOGIN CREATEDB');
	my ($rc, $out, $err) = run_pgcrane('preflight', '--roles',
		'--source' => $src->connstr('app'), '--target' => $dst->connstr('app') . ' user=plain');
	is($rc, 1, 'a target role without CREATEROLE: preflight --roles exits 1');
	like($err, qr/^pgcrane: error: the target role may not create roles: it has neither CREATEROLE nor SUPERUSER$/m,
		'a target role without CREATEROLE is named');
}

# ---------- (d) --roles=all ----------
{
	my $dir = "$tempdir/run" . ++$runs;
	my ($rc, $out, $err) = clone_ok('clone --roles=all',
		'--source' => $src->connstr('app'), '--target' => $dst->connstr('app'),
		'--dir' => $dir, '--roles=all', '--jobs' => 2);
	like($err, qr/^pgcrane: roles: \d+ reserved roles are skipped: .*"cloudsqladmin".*"rds_superuser"/m,
		'--roles=all lists the reserved roles it skips');
	is($dst->safe_psql('postgres',
			"SELECT string_agg(rolname, ',' ORDER BY rolname) FROM pg_roles WHERE rolname IN ('app_unused', 'src_reader', 'rds_superuser', 'cloudsqladmin')"),
		'app_unused,src_reader', '--roles=all creates every role but the reserved ones');
	is($dst->safe_psql('postgres',
			"SELECT count(*) FROM pg_auth_members WHERE member = 'src_reader'::regrole AND roleid = 'pg_monitor'::regrole"),
		'1', '--roles=all: membership in a predefined role is granted');
	$dst->safe_psql('postgres', 'DROP DATABASE app');
	drop_app_roles();
	$dst->safe_psql('postgres', 'DROP ROLE src_reader');
}

# ---------- (e) tablespaces ----------
my $tsdir = abs_path($tempdir);
mkdir "$tsdir/ts_src" or die;
mkdir "$tsdir/ts_dst" or die;
$src->safe_psql('postgres', "CREATE TABLESPACE ts_src LOCATION '$tsdir/ts_src'");
$dst->safe_psql('postgres', "CREATE TABLESPACE ts_dst LOCATION '$tsdir/ts_dst'");
$src->safe_psql('postgres', 'CREATE DATABASE tbl');
$src->safe_psql('tbl', <<'EOSQL');
CREATE TABLE big (id int PRIMARY KEY USING INDEX TABLESPACE ts_src, v text) TABLESPACE ts_src;
INSERT INTO big SELECT i, 'v' || i FROM generate_series(1, 1000) AS i;
CREATE INDEX big_v ON big (v) TABLESPACE ts_src;
CREATE TABLE small (id int PRIMARY KEY, v text);
INSERT INTO small SELECT i, 's' || i FROM generate_series(1, 100) AS i;
CREATE INDEX small_v ON small (v) TABLESPACE ts_src;
CREATE TABLE parted (id int, v text) PARTITION BY RANGE (id) TABLESPACE ts_src;
CREATE TABLE parted_1 PARTITION OF parted FOR VALUES FROM (0) TO (1000);
INSERT INTO parted SELECT i, 'p' || i FROM generate_series(1, 500) AS i;
CREATE INDEX parted_v ON parted (v) TABLESPACE ts_src;
CREATE MATERIALIZED VIEW mv TABLESPACE ts_src AS SELECT id, v FROM big WHERE id < 100;
CREATE INDEX mv_id ON mv (id) TABLESPACE ts_src;
EOSQL

my $placed_sql = <<'EOSQL';
SELECT c.relname, coalesce(t.spcname, '-') FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_tablespace t ON t.oid = c.reltablespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'm', 'i', 'I') ORDER BY 1
EOSQL
{
	my ($rc, $out, $err) = run_pgcrane('preflight',
		'--source' => $src->connstr('tbl'), '--target' => $dst->connstr('tbl'));
	is($rc, 1, 'a tablespace missing on the target: preflight exits 1');
	is_deeply([ error_lines($err) ],
		[ 'pgcrane: error: tablespace "ts_src" is used on the source but does not exist on the target server' ],
		'the missing tablespace is named');
	like($err, qr/^pgcrane: hint: .*--tablespace-map ts_src=.*--no-tablespaces/m,
		'the hint names --tablespace-map and --no-tablespaces');

	($rc, $out, $err) = run_pgcrane('preflight', '--tablespace-map' => 'ts_src=nowhere',
		'--source' => $src->connstr('tbl'), '--target' => $dst->connstr('tbl'));
	is_deeply([ error_lines($err) ],
		[ 'pgcrane: error: tablespace "nowhere", to which --tablespace-map maps "ts_src", does not exist on the target server' ],
		'a map to a tablespace the target lacks is named');

	($rc, $out, $err) = run_pgcrane('clone', '--tablespace-map' => 'ts_src=ts_dst', '--no-tablespaces',
		'--source' => $src->connstr('tbl'), '--target' => $dst->connstr('tbl'));
	is($rc, 2, '--tablespace-map with --no-tablespaces is refused');
	like($err, qr/^pgcrane: error: options --tablespace-map and --no-tablespaces cannot be used together$/m,
		'... in one line');
	($rc, $out, $err) = run_pgcrane('clone', '--tablespace-map' => 'ts_src',
		'--source' => $src->connstr('tbl'), '--target' => $dst->connstr('tbl'));
	is($rc, 2, '--tablespace-map without DST is refused');
}
{
	my $dir = "$tempdir/run" . ++$runs;
	clone_ok('clone --tablespace-map',
		'--source' => $src->connstr('tbl'), '--target' => $dst->connstr('tbl'),
		'--dir' => $dir, '--tablespace-map' => 'ts_src=ts_dst', '--jobs' => 2);
	my $expected = $src->safe_psql('tbl', $placed_sql);
	$expected =~ s/\|ts_src$/|ts_dst/mg;
	is($dst->safe_psql('tbl', $placed_sql), $expected,
		'--tablespace-map: tables, partitioned tables, materialized views and indexes in ts_dst');
	is($dst->safe_psql('tbl', 'SELECT count(*) FROM big JOIN small USING (id)') . ' '
		  . $dst->safe_psql('tbl', 'SELECT count(*) FROM mv') . ' '
		  . $dst->safe_psql('tbl', 'SELECT count(*) FROM parted'),
		'100 99 500', '--tablespace-map: the rows are there');
	$dst->safe_psql('postgres', 'DROP DATABASE tbl');
}
{
	my $dir = "$tempdir/run" . ++$runs;
	clone_ok('clone --no-tablespaces',
		'--source' => $src->connstr('tbl'), '--target' => $dst->connstr('tbl'),
		'--dir' => $dir, '--no-tablespaces', '--jobs' => 2);
	my $expected = $src->safe_psql('tbl', $placed_sql);
	$expected =~ s/\|ts_src$/|-/mg;
	is($dst->safe_psql('tbl', $placed_sql), $expected,
		'--no-tablespaces: everything in the default tablespace');
	$dst->safe_psql('postgres', 'DROP DATABASE tbl');
}

done_testing();
