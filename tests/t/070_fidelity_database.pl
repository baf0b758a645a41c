
# Copyright (c) pgcrane contributors

# The database as pg_restore --create makes it, and every property of the
# objects pgcrane builds itself:
#  - the database's owner, privileges (REVOKE CONNECT ... FROM PUBLIC),
#    connection limit, comment, ALTER DATABASE ... SET (the regression
#    database's six, and default_transaction_read_only) and ALTER ROLE
#    ... IN DATABASE ... SET, on a fresh target, a target recreated with
#    --drop-if-exists and a target that existed before (empty), with and
#    without --no-owner / --no-acl, and as a target role that is not a
#    superuser;
#  - preflight naming what the target role cannot apply;
#  - comments on the indexes and constraints pgcrane builds, whatever
#    their place in the archive, and the statistics targets of index
#    columns;
#  - the rows of an extension's configuration table (through its
#    pg_extension_config_dump condition) and its configuration sequence.
# Each case compares the catalogs of both sides.  Security labels need a
# label provider module, which no packaged server has: they go the same
# way as comments (the same TOC list and statements) but are not tested.

use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

# An installation with a writable extension directory, for a test
# extension that has a configuration table.
my ($inst, $why) = install_without_extension('pgcrane_no_such_extension');
plan skip_all => "cannot build a test installation: $why" unless defined $inst;
my $sharedir = `$inst/bin/pg_config --sharedir`;
chomp $sharedir;
PostgreSQL::Test::Utils::append_to_file("$sharedir/extension/pgcrane_cfg.control",
	"default_version = '1.0'\nrelocatable = false\nschema = public\n");
PostgreSQL::Test::Utils::append_to_file("$sharedir/extension/pgcrane_cfg--1.0.sql", <<'EOSQL');
CREATE TABLE cfg (id int PRIMARY KEY, name text, standard boolean NOT NULL DEFAULT false);
INSERT INTO cfg VALUES (1, 'made by the extension', true);
SELECT pg_catalog.pg_extension_config_dump('cfg', 'WHERE NOT standard');
CREATE SEQUENCE cfg_seq;
SELECT pg_catalog.pg_extension_config_dump('cfg_seq', '');
EOSQL

my $src = new_source_node('source', install_path => $inst);
my $dst = new_target_node('target', install_path => $inst);
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $super = $src->safe_psql('postgres', 'SELECT current_user');

foreach my $node ($src, $dst)
{
	$node->safe_psql('postgres', <<'EOSQL');
CREATE ROLE alice;
CREATE ROLE bob;
CREATE ROLE carol;
CREATE ROLE migrator LOGIN CREATEDB CREATEROLE;
GRANT alice TO migrator;
EOSQL
}

# The source database: its own properties, then the objects.
$src->safe_psql('postgres', <<'EOSQL');
CREATE DATABASE fid OWNER alice CONNECTION LIMIT 7;
COMMENT ON DATABASE fid IS 'the source database';
REVOKE CONNECT, TEMPORARY ON DATABASE fid FROM PUBLIC;
GRANT CONNECT ON DATABASE fid TO bob;
ALTER DATABASE fid SET lc_messages = 'C';
ALTER DATABASE fid SET lc_monetary = 'C';
ALTER DATABASE fid SET lc_numeric = 'C';
ALTER DATABASE fid SET lc_time = 'C';
ALTER DATABASE fid SET bytea_output = 'escape';
ALTER DATABASE fid SET timezone_abbreviations = 'Australia';
ALTER ROLE carol IN DATABASE fid SET work_mem = '8MB';
EOSQL
$src->safe_psql('fid', <<'EOSQL');
CREATE EXTENSION pgcrane_cfg;
INSERT INTO cfg VALUES (2, 'added by the user', false), (3, 'another', false);
SELECT setval('cfg_seq', 42);

CREATE TABLE t (id int, a int, b text);
INSERT INTO t SELECT i, i % 7, 'row ' || i FROM generate_series(1, 500) i;
ALTER TABLE t ADD CONSTRAINT t_pk PRIMARY KEY (id);
COMMENT ON CONSTRAINT t_pk ON t IS 'the primary key';
CREATE UNIQUE INDEX t_expr ON t (id, (b || 'x'));
ALTER INDEX t_expr ALTER COLUMN 2 SET STATISTICS 77;
COMMENT ON INDEX t_expr IS 'an expression index';
CREATE INDEX t_a ON t (a);
COMMENT ON INDEX t_a IS 'a plain index';
ALTER TABLE t ADD CONSTRAINT t_b_key UNIQUE (b);
COMMENT ON CONSTRAINT t_b_key ON t IS 'a unique key';

CREATE TABLE u (id int PRIMARY KEY, t_id int CONSTRAINT u_t_fk REFERENCES t);
INSERT INTO u SELECT i, i FROM generate_series(1, 100) i;
COMMENT ON CONSTRAINT u_t_fk ON u IS 'a foreign key';

CREATE TABLE p (id int, k int) PARTITION BY RANGE (id);
CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (100);
CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (100) TO (200);
CREATE INDEX p_k ON p (k);
COMMENT ON INDEX p_k IS 'a partitioned index';
COMMENT ON INDEX p1_k_idx IS 'a partition''s index';
INSERT INTO p SELECT i, i FROM generate_series(0, 199) i;
EOSQL
# Last: from now on every session of the database is read-only.
$src->safe_psql('postgres',
	"ALTER DATABASE fid SET default_transaction_read_only = on");

# The database's own properties, as text.  The privileges are compared as
# a set: the same grants may come out in another order.
my $props_sql = q{
SELECT pg_get_userbyid(d.datdba) || ' | ' || d.datconnlimit || ' | '
  || coalesce((SELECT string_agg(a::text, ',' ORDER BY a::text) FROM unnest(d.datacl) a),
     'default acl') || ' | '
  || coalesce(shobj_description(d.oid, 'pg_database'), 'no comment') || ' | '
  || coalesce((SELECT string_agg(coalesce(s.setrole::regrole::text, '-') || ':'
       || array_to_string(s.setconfig, ','), ' ' ORDER BY s.setrole)
     FROM pg_db_role_setting s WHERE s.setdatabase = d.oid), 'no settings')
FROM pg_database d WHERE d.datname = current_database()};

# Comments, statistics targets and rows of what pgcrane builds or copies.
my $objects_sql = q{
SELECT string_agg(x, E'\n' ORDER BY x) FROM (
  SELECT 'index ' || c.relname || ': ' || coalesce(obj_description(c.oid, 'pg_class'), '-')
    || ' stats ' || (SELECT string_agg(a.attstattarget::text, ',' ORDER BY a.attnum)
       FROM pg_attribute a WHERE a.attrelid = c.oid)
  FROM pg_class c WHERE c.relkind IN ('i', 'I') AND c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'constraint ' || conname || ': ' || coalesce(obj_description(oid, 'pg_constraint'), '-')
  FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'cfg ' || string_agg(id || ' ' || name, ', ' ORDER BY id) FROM cfg
  UNION ALL
  SELECT 'cfg_seq ' || last_value || ' ' || is_called FROM cfg_seq) s(x)};

my $src_props = $src->safe_psql('fid', $props_sql);
my $src_objects = $src->safe_psql('fid', $objects_sql);
like($src_objects, qr/index t_expr: an expression index stats -1,77/,
	'the source has the planted properties');

sub props_equal
{
	my ($db, $label, $expect) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is($dst->safe_psql($db, $props_sql), $expect // $src_props,
		"$label: the database's own properties are as on the source");
}

sub objects_equal
{
	my ($db, $label) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	is($dst->safe_psql($db, $objects_sql), $src_objects,
		"$label: comments, statistics targets and configuration rows are as on the source");
}

# 1. A fresh target, under another name.
clone_ok(
	'clone into a fresh target',
	'--source' => $src->connstr('fid'),
	'--target' => $dst->connstr('fid_copy'),
	'--jobs' => 2,
	'--dir' => "$tempdir/fresh");
(my $renamed = $src_props) =~ s/\bfid\b/fid_copy/g;
props_equal('fid_copy', 'fresh target', $renamed);
objects_equal('fid_copy', 'fresh target');
is($dst->safe_psql('fid_copy',
		q{SELECT has_database_privilege('public', current_database(), 'CONNECT')}),
	'f', 'fresh target: PUBLIC may not connect, as on the source');
is($dst->safe_psql('fid_copy', 'SHOW default_transaction_read_only'),
	'on', 'fresh target: default_transaction_read_only is set, as on the source');
databases_equal($src, 'fid', $dst, 'fid_copy');

# 2. --drop-if-exists on a target that holds something.
$dst->safe_psql('postgres', 'CREATE DATABASE fid');
$dst->safe_psql('fid', 'CREATE TABLE leftover (x int)');
clone_ok(
	'clone with --drop-if-exists',
	'--source' => $src->connstr('fid'),
	'--target' => $dst->connstr('fid'),
	'--drop-if-exists',
	'--dir' => "$tempdir/drop");
props_equal('fid', '--drop-if-exists');
objects_equal('fid', '--drop-if-exists');

# 3. A target that existed before, empty: it is given the same properties.
$dst->safe_psql('postgres', 'CREATE DATABASE fid_kept');
clone_ok(
	'clone into an existing empty target',
	'--source' => $src->connstr('fid'),
	'--target' => $dst->connstr('fid_kept'),
	'--dir' => "$tempdir/kept");
($renamed = $src_props) =~ s/\bfid\b/fid_kept/g;
props_equal('fid_kept', 'existing target', $renamed);
objects_equal('fid_kept', 'existing target');

# 4. --no-owner --no-acl: the owner is the target role, privileges are
# the defaults; the rest comes over.
clone_ok(
	'clone with --no-owner --no-acl',
	'--source' => $src->connstr('fid'),
	'--target' => $dst->connstr('fid_noown'),
	'--no-owner', '--no-acl',
	'--dir' => "$tempdir/noown");
($renamed = $src_props) =~ s/\bfid\b/fid_noown/g;
$renamed =~ s/^alice \| 7 \| [^|]+\|/$super | 7 | default acl |/;
props_equal('fid_noown', '--no-owner --no-acl', $renamed);
objects_equal('fid_noown', '--no-owner --no-acl');

# 5. --no-acl alone: owner as on the source, default privileges.
clone_ok(
	'clone with --no-acl',
	'--source' => $src->connstr('fid'),
	'--target' => $dst->connstr('fid_noacl'),
	'--no-acl',
	'--dir' => "$tempdir/noacl");
($renamed = $src_props) =~ s/\bfid\b/fid_noacl/g;
$renamed =~ s/^alice \| 7 \| [^|]+\|/alice | 7 | default acl |/;
props_equal('fid_noacl', '--no-acl', $renamed);

# 6. A target role that is not a superuser.  lc_messages is a setting
# only a superuser may give a database: preflight says so.
(my $as_migrator = $dst->connstr('fid_m')) =~ s/$/ user=migrator/;
my ($rc, $out, $err) = run_pgcrane(
	'preflight',
	'--source' => $src->connstr('fid'),
	'--target' => $as_migrator);
is($rc, 1, 'preflight fails for a target role that cannot set lc_messages');
like(
	$err,
	qr/error: the target role may not set parameter "lc_messages" for target database "fid_m": only a superuser may/,
	'preflight names the parameter the target role may not set');

# A source database with what such a role may apply, its objects owned
# by alice, of whom the target role is a member.
$src->safe_psql('postgres', <<'EOSQL');
CREATE DATABASE fidu OWNER alice CONNECTION LIMIT 5;
COMMENT ON DATABASE fidu IS 'for a target role that is not a superuser';
REVOKE CONNECT ON DATABASE fidu FROM PUBLIC;
GRANT CONNECT ON DATABASE fidu TO bob;
ALTER DATABASE fidu SET lc_monetary = 'C';
ALTER DATABASE fidu SET bytea_output = 'escape';
ALTER ROLE carol IN DATABASE fidu SET work_mem = '4MB';
EOSQL
$src->safe_psql('fidu', <<'EOSQL');
SET ROLE alice;
CREATE TABLE v (id int PRIMARY KEY, s text);
COMMENT ON CONSTRAINT v_pkey ON v IS 'the key of v';
INSERT INTO v SELECT i, 'v' || i FROM generate_series(1, 50) i;
EOSQL
$src->safe_psql('postgres',
	"ALTER DATABASE fidu SET default_transaction_read_only = on");
(my $as_migrator_u = $dst->connstr('fidu')) =~ s/$/ user=migrator/;
clone_ok(
	'clone as a target role that is not a superuser',
	'--source' => $src->connstr('fidu'),
	'--target' => $as_migrator_u,
	'--dir' => "$tempdir/migrator");
is($dst->safe_psql('fidu', $props_sql), $src->safe_psql('fidu', $props_sql),
	'not a superuser: the database\'s own properties are as on the source');
is($dst->safe_psql('fidu', q{SELECT obj_description(oid, 'pg_constraint') FROM pg_constraint WHERE conname = 'v_pkey'}),
	'the key of v', 'not a superuser: the comment on the key comes over');

# A target role that is not a member of the owner keeps the database: a
# warning, not a failure.
$dst->safe_psql('postgres', 'CREATE ROLE outsider LOGIN CREATEDB');
(my $as_outsider = $dst->connstr('fidu_out')) =~ s/$/ user=outsider/;
($rc, $out, $err) = run_pgcrane(
	'preflight',
	'--source' => $src->connstr('fidu'),
	'--target' => $as_outsider);
like(
	$err,
	qr/warning: target database "fidu_out" will stay owned by the target role: it may not make role "alice" its owner/,
	'preflight warns that the database will stay the target role\'s');
unlike($err, qr/error: .*target database "fidu_out".*owner/,
	'the owner of the database alone fails nothing');

# 7. Preflight names an owner role the target lacks, unless --no-owner.
$src->safe_psql('postgres', <<'EOSQL');
CREATE ROLE dave;
CREATE DATABASE fidd OWNER dave;
EOSQL
($rc, $out, $err) = run_pgcrane(
	'preflight',
	'--source' => $src->connstr('fidd'),
	'--target' => $dst->connstr('fidd'));
is($rc, 1, 'preflight fails when the owner of the source database is missing');
like($err,
	qr/error: role "dave" owns source database "fidd" but does not exist on the target server/,
	'preflight names the missing owner of the database');
($rc, $out, $err) = run_pgcrane(
	'preflight',
	'--source' => $src->connstr('fidd'),
	'--target' => $dst->connstr('fidd'),
	'--no-owner');
unlike($err, qr/owns source database/, 'with --no-owner the owner is not needed');

done_testing();
