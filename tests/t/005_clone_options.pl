
# Copyright (c) pgcrane contributors

# Options of pgcrane clone beyond the defaults:
#  - owners and privileges are copied by default, and left out with
#    --no-owner and --no-acl;
#  - PGCRANE_SOURCE and PGCRANE_TARGET replace --source and --target;
#  - connection URIs work as well as key=value strings;
#  - --verify checks the copy at the end;
#  - --jobs 1 and --index-jobs give the same result as the defaults.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

# Roles are global objects: the target server has them too, as it must
# for owners and privileges to be copied.
foreach my $node ($src, $dst)
{
	$node->safe_psql('postgres', <<'EOSQL');
CREATE ROLE app_owner NOLOGIN;
CREATE ROLE reader NOLOGIN;
EOSQL
}

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
CREATE SCHEMA app AUTHORIZATION app_owner;
CREATE TABLE app.items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2));
CREATE TABLE app.orders (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id int NOT NULL REFERENCES app.items (id),
    quantity int NOT NULL CHECK (quantity > 0)
);
CREATE INDEX orders_item ON app.orders (item_id);
CREATE VIEW app.order_totals AS
    SELECT o.item_id, sum(o.quantity * i.price) AS total
    FROM app.orders o JOIN app.items i ON i.id = o.item_id GROUP BY o.item_id;
CREATE FUNCTION app.item_count() RETURNS bigint LANGUAGE sql STABLE
    AS 'SELECT count(*) FROM app.items';
ALTER TABLE app.items OWNER TO app_owner;
ALTER TABLE app.orders OWNER TO app_owner;
ALTER VIEW app.order_totals OWNER TO app_owner;
ALTER FUNCTION app.item_count() OWNER TO app_owner;
GRANT USAGE ON SCHEMA app TO reader;
GRANT SELECT ON app.items, app.order_totals TO reader;
GRANT SELECT (id, item_id) ON app.orders TO reader;
REVOKE EXECUTE ON FUNCTION app.item_count() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION app.item_count() TO reader;
INSERT INTO app.items SELECT i, 'item ' || i, i * 1.25 FROM generate_series(1, 300) AS i;
INSERT INTO app.orders (item_id, quantity)
    SELECT 1 + i % 300, 1 + i % 7 FROM generate_series(1, 3000) AS i;
EOSQL

# Owners and privileges are copied by default: the schema dumps, which
# include them, are the same.
clone_ok(
	'clone with owners and privileges',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop'),
	'--dir' => "$tempdir/work-default");
databases_equal($src, 'shop', $dst, 'shop');
is(
	$dst->safe_psql('shop',
		q{SELECT has_table_privilege('reader', 'app.items', 'SELECT'),
		         has_table_privilege('reader', 'app.orders', 'SELECT'),
		         has_column_privilege('reader', 'app.orders', 'item_id', 'SELECT'),
		         has_function_privilege('reader', 'app.item_count()', 'EXECUTE'),
		         pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'app.items'::regclass}),
	't|f|t|t|app_owner',
	'privileges and owner are those of the source');

# --no-owner --no-acl: same data, objects owned by the user pgcrane
# connects as, no privileges granted.
clone_ok(
	'clone --no-owner --no-acl',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop_plain'),
	'--no-owner', '--no-acl',
	'--dir' => "$tempdir/work-plain");
tables_equal($src, 'shop', $dst, 'shop_plain');
sequences_equal($src, 'shop', $dst, 'shop_plain');
is(
	$dst->safe_psql('shop_plain',
		q{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname = 'app' AND c.relowner = 'app_owner'::regrole}),
	'0',
	'--no-owner: no relation is owned by the source owner');
is(
	$dst->safe_psql('shop_plain',
		q{SELECT pg_get_userbyid(nspowner) = current_user FROM pg_namespace WHERE nspname = 'app'}),
	't',
	'--no-owner: the schema belongs to the connecting user');
is(
	$dst->safe_psql('shop_plain',
		q{SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		  WHERE n.nspname = 'app' AND c.relacl IS NOT NULL}),
	'0',
	'--no-acl: no relation has privileges');
is(
	$dst->safe_psql('shop_plain',
		q{SELECT has_table_privilege('reader', 'app.items', 'SELECT'),
		         has_schema_privilege('reader', 'app', 'USAGE')}),
	'f|f',
	'--no-acl: the reader role was granted nothing');

# PGCRANE_SOURCE and PGCRANE_TARGET, the target given as a URI, one copy
# worker and two index workers, and --verify at the end.
{
	local $ENV{PGCRANE_SOURCE} = $src->connstr('shop');
	local $ENV{PGCRANE_TARGET} = sprintf('postgresql:///shop_env?host=%s&port=%s',
		$dst->host, $dst->port);
	my ($rc, $out, $err) = run_pgcrane(
		'clone', '--jobs' => 1, '--index-jobs' => 2, '--verify',
		'--dir' => "$tempdir/work-env");
	is($rc, 0, 'clone from PGCRANE_SOURCE to PGCRANE_TARGET with --verify')
	  or diag("stderr was:\n$err");
	databases_equal($src, 'shop', $dst, 'shop_env');
}

# An explicit option wins over the environment.
{
	local $ENV{PGCRANE_SOURCE} = 'host=/nonexistent port=1 dbname=nothing';
	local $ENV{PGCRANE_TARGET} = 'host=/nonexistent port=2 dbname=nothing';
	my ($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => $src->connstr('shop'),
		'--target' => $dst->connstr('shop_opt'),
		'--dir' => "$tempdir/work-opt");
	is($rc, 0, '--source and --target take precedence over the environment')
	  or diag("stderr was:\n$err");
	ok(database_exists($dst, 'shop_opt'), 'the target given by --target was created');
}

done_testing();
