
# Copyright (c) pgcrane contributors

# Follow every kind of change: the common column types with awkward
# values, updates that leave TOASTed values unchanged, a table without a
# key holding duplicate rows (REPLICA IDENTITY FULL, json columns), REPLICA
# IDENTITY USING INDEX, TRUNCATE of several tables with RESTART IDENTITY
# and CASCADE, identity and generated columns, a partitioned table with a
# row moving between partitions, a trigger that must not fire on the
# target, a transaction larger than logical_decoding_work_mem, sequences.
# Then schema changes on the source, cloned with --ddl=stop: the follow stops with a message
# naming the table, and goes on once the target is changed the same way.
# Ctrl-C stops it cleanly.

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

# Start "pgcrane follow" on the directory; its output goes to $name.err.
sub start_follow
{
	my ($name) = @_;
	unlink("$tempdir/$name.err");
	return start_background($tempdir, $name, pgcrane_path(), 'follow',
		'--dir', $dir);
}

# The process applying the changes (clone --follow, or follow).
my $follower;

# Run SQL on the source, then wait until the target has the row it adds to
# the marker table: everything before it is applied.  Gives up at once
# when the follower has ended.
my $mark = 0;
sub source_then_wait
{
	my ($sql, $what) = @_;
	$mark++;
	$src->safe_psql('dml', $sql);
	$src->safe_psql('dml', "INSERT INTO marker VALUES ($mark)");
	for (my $i = 0; $i < $timeout * 5; $i++)
	{
		if ($dst->safe_psql('dml', "SELECT count(*) FROM marker WHERE id = $mark") eq '1')
		{
			pass("the target received $what");
			return;
		}
		my $rc = wait_background($follower, 0.2);
		if (defined $rc)
		{
			fail("the target received $what");
			diag("the follower ended with exit code $rc:\n"
				  . slurp_if_exists("$tempdir/clone.err")
				  . slurp_if_exists("$tempdir/follow.err"));
			BAIL_OUT('the follower ended');
		}
	}
	fail("the target received $what");
}

# ---------- the source ----------

$src->append_conf('postgresql.conf', "logical_decoding_work_mem = 64kB\n");
$src->reload;
$src->safe_psql('postgres', 'CREATE DATABASE dml');
$src->safe_psql('dml', <<'EOSQL');
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (x int, y text);
CREATE TABLE marker (id int PRIMARY KEY);

CREATE TABLE types (
    id int PRIMARY KEY,
    c_int2 int2, c_int8 int8, c_num numeric(20, 5), c_f4 float4, c_f8 float8,
    c_bool bool, c_text text, c_vc varchar(20), c_ch char(5), c_bytea bytea,
    c_date date, c_time time, c_timetz timetz, c_ts timestamp, c_tstz timestamptz,
    c_iv interval, c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml,
    c_inet inet, c_cidr cidr, c_mac macaddr, c_point point, c_ia int[],
    c_ta text[], c_mood mood, c_pos posint, c_money money, c_bit bit(8),
    c_vbit varbit, c_tsv tsvector, c_range int4range, c_pair pair, c_oid oid);
INSERT INTO types (id, c_text) VALUES (1, 'cloned');

CREATE TABLE docs (id int PRIMARY KEY, body text, note text, blob bytea);
ALTER TABLE docs ALTER body SET STORAGE EXTERNAL;
INSERT INTO docs SELECT i, repeat(md5(i::text), 300), 'n' || i,
                        decode(repeat(md5(i::text), 200), 'hex')
  FROM generate_series(1, 20) AS i;

CREATE TABLE nokey (a int, b text, j json, big text);
ALTER TABLE nokey REPLICA IDENTITY FULL;
ALTER TABLE nokey ALTER big SET STORAGE EXTERNAL;
INSERT INTO nokey VALUES (1, 'dup', '{"k": 1}', NULL), (1, 'dup', '{"k": 1}', NULL),
    (1, 'dup', '{"k": 1}', NULL), (2, NULL, NULL, repeat('z', 5000)),
    (3, 'x', '[1,  2]', NULL);

CREATE TABLE uidx (a int NOT NULL, b text NOT NULL, v int, CONSTRAINT uidx_ab UNIQUE (a, b));
ALTER TABLE uidx REPLICA IDENTITY USING INDEX uidx_ab;
INSERT INTO uidx SELECT i, 'k' || i, i FROM generate_series(1, 50) AS i;

CREATE TABLE parent_t (id serial PRIMARY KEY, v text);
CREATE TABLE child_t (id int PRIMARY KEY, pid int REFERENCES parent_t (id));
INSERT INTO parent_t (v) SELECT 'p' || i FROM generate_series(1, 10) AS i;
INSERT INTO child_t SELECT i, i FROM generate_series(1, 10) AS i;
CREATE TABLE solo (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
INSERT INTO solo (v) VALUES ('a'), ('b');

CREATE TABLE orders (id int PRIMARY KEY, amount numeric);
CREATE TABLE audit (id bigserial PRIMARY KEY, order_id int, op text);
CREATE FUNCTION audit_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit (order_id, op) VALUES (NEW.id, TG_OP);
    RETURN NEW;
END $$;
CREATE TRIGGER orders_audit AFTER INSERT OR UPDATE ON orders
    FOR EACH ROW EXECUTE FUNCTION audit_fn();
INSERT INTO orders VALUES (1, 10), (2, 20);

CREATE TABLE meas (id int, region text, v int, PRIMARY KEY (id, region))
    PARTITION BY LIST (region);
CREATE TABLE meas_eu PARTITION OF meas FOR VALUES IN ('eu');
CREATE TABLE meas_us PARTITION OF meas FOR VALUES IN ('us');
INSERT INTO meas SELECT i, CASE WHEN i % 2 = 0 THEN 'eu' ELSE 'us' END, i
  FROM generate_series(1, 20) AS i;

CREATE TABLE gen (id int PRIMARY KEY, a int,
                  doubled int GENERATED ALWAYS AS (a * 2) STORED);
INSERT INTO gen (id, a) VALUES (1, 1);

CREATE TABLE big (id int PRIMARY KEY, v text);
CREATE SEQUENCE standalone_seq;
EOSQL

# ---------- clone --follow ----------

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('dml'),
	'--target' => $dst->connstr('dml'),
	'--dir' => $dir, '--jobs' => 2, '--ddl=stop');
$follower = $clone;
for (my $i = 0; $i < $timeout * 5; $i++)
{
	last if state_kv($dir, 'follow.phase') ne '';
	my $rc = wait_background($clone, 0.2);
	next unless defined $rc;
	is($rc, 0, 'clone --follow succeeds') or diag(slurp_if_exists("$tempdir/clone.err"));
	$follower = start_follow('follow');
	last;
}
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, $timeout),
	'the changes are being applied')
  or diag(slurp_if_exists("$tempdir/clone.err")
	  . slurp_if_exists("$tempdir/follow.err"));

# ---------- changes ----------

source_then_wait(<<'EOSQL', 'every column type');
INSERT INTO types VALUES
 (2, -32768, 9223372036854775807, -123456789012345.12345, 'NaN', '-Infinity',
  true, E'quote '' backslash \\ tab \t newline \n unicode ☃ é', 'varchar', 'ab',
  '\x00ff10', '2024-02-29', '23:59:59.999999', '12:00:00+05:30',
  '1999-12-31 23:59:59.5', '2024-06-01 12:34:56.789+02', '1 year 2 mons -3 days 04:05:06',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"b": [1, 2.50, null], "a": "x"}',
  '{"b": [1, 2.50, null], "a": "x"}', '<doc><a x="1">t &amp; u</a></doc>',
  '192.168.1.10/24', '10.0.0.0/8', '08:00:2b:01:02:03', '(1.5,-2.25)',
  '{1,NULL,3}', '{"a b","c\"d",NULL,""}', 'happy', 7, '12.34', B'10101010',
  B'101', 'fat cat:1 sat', '[3,7)', '(1,"x y")', 4000000000),
 (3, 0, 0, 0, 0.1, -0.0, false, '', '', '', '', 'infinity', '00:00', '00:00+00',
  '-infinity', 'infinity', '0', '00000000-0000-0000-0000-000000000000', 'null',
  '[]', '<e/>', '::1', '::/0', '00:00:00:00:00:00', '(0,0)', '{}', '{}', 'sad', 1,
  '0', B'00000000', B'', '', 'empty', '(,"")', 0),
 (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
UPDATE types SET c_f8 = 1e300, c_json = '{"spaces":   true}', c_ia = '{{1,2},{3,4}}'
 WHERE id = 2;
UPDATE types SET c_text = NULL, c_pos = 2 WHERE id = 3;
UPDATE types SET c_text = 'changed', c_num = 1.5 WHERE id = 1;
DELETE FROM types WHERE id = 4;
EOSQL

source_then_wait(<<'EOSQL', 'updates leaving TOASTed values unchanged');
UPDATE docs SET note = 'changed ' || id WHERE id <= 10;
UPDATE docs SET body = body || 'x' WHERE id = 3;
UPDATE docs SET blob = NULL, note = 'no blob' WHERE id = 4;
UPDATE docs SET id = id + 100 WHERE id = 5;
DELETE FROM docs WHERE id = 6;
EOSQL

source_then_wait(<<'EOSQL', 'changes to the table without a key');
UPDATE nokey SET b = 'one' WHERE ctid = (SELECT ctid FROM nokey WHERE a = 1 LIMIT 1);
DELETE FROM nokey WHERE ctid = (SELECT ctid FROM nokey WHERE b = 'dup' LIMIT 1);
UPDATE nokey SET a = 20 WHERE a = 2;
UPDATE nokey SET j = '{"k":  2}' WHERE a = 3;
INSERT INTO nokey VALUES (1, 'dup', '{"k": 1}', NULL), (NULL, NULL, NULL, NULL);
UPDATE nokey SET b = 'was null' WHERE a IS NULL;
EOSQL

source_then_wait(<<'EOSQL', 'changes to the table with an identity index');
UPDATE uidx SET v = v + 100 WHERE a <= 10;
UPDATE uidx SET b = b || 'x' WHERE a BETWEEN 11 AND 15;
UPDATE uidx SET a = a + 1000, v = 0 WHERE a = 16;
DELETE FROM uidx WHERE a > 45;
EOSQL

source_then_wait(<<'EOSQL', 'truncates and identity columns');
BEGIN;
TRUNCATE child_t, parent_t RESTART IDENTITY;
INSERT INTO parent_t (v) VALUES ('after truncate');
INSERT INTO child_t VALUES (1, 1);
COMMIT;
TRUNCATE parent_t CASCADE;
INSERT INTO parent_t (v) VALUES ('after cascade');
TRUNCATE solo;
INSERT INTO solo (v) VALUES ('c'), ('d');
UPDATE solo SET v = 'dd' WHERE v = 'd';
EOSQL

source_then_wait(<<'EOSQL', 'changes that fire a trigger on the source');
INSERT INTO orders VALUES (3, 30);
UPDATE orders SET amount = amount * 2;
DELETE FROM orders WHERE id = 1;
EOSQL

source_then_wait(<<'EOSQL', 'changes to a partitioned table');
INSERT INTO meas VALUES (100, 'eu', 1), (101, 'us', 2);
UPDATE meas SET region = 'us' WHERE id = 2;
UPDATE meas SET v = v * 10 WHERE region = 'eu';
DELETE FROM meas WHERE id = 3;
TRUNCATE meas_eu;
EOSQL

source_then_wait(<<'EOSQL', 'changes to a table with a generated column');
INSERT INTO gen (id, a) VALUES (2, 21), (3, NULL);
UPDATE gen SET a = a + 1;
EOSQL

source_then_wait(<<'EOSQL', 'a transaction larger than logical_decoding_work_mem');
BEGIN;
INSERT INTO big SELECT i, md5(i::text) FROM generate_series(1, 100000) AS i;
UPDATE big SET v = v || 'x' WHERE id % 3 = 0;
DELETE FROM big WHERE id % 7 = 0;
SELECT nextval('standalone_seq') FROM generate_series(1, 5);
COMMIT;
EOSQL

tables_equal($src, 'dml', $dst, 'dml');
is($dst->safe_psql('dml', 'SELECT count(*) FROM audit'),
	$src->safe_psql('dml', 'SELECT count(*) FROM audit'),
	'the trigger did not fire on the target');
is(state_kv($dir, 'follow.missing_rows'), '0', 'every update and delete found its row');

# ---------- a schema change on the source (--ddl=stop) ----------

$src->safe_psql('dml', <<'EOSQL');
ALTER TABLE gen ADD COLUMN extra text;
INSERT INTO gen (id, a, extra) VALUES (10, 10, 'after the change');
EOSQL
is(wait_background($follower, 4 * $timeout), 2, 'the follow stops at a schema change');
my $err = slurp_if_exists("$tempdir/follow.err") . slurp_if_exists("$tempdir/clone.err");
like($err, qr/error: (the columns of table "public\.gen" changed on the source|column "extra" of table "public\.gen" does not exist on the target)/,
	'the message names the table');
like($err, qr/hint: Apply the same schema change on the target, then run: pgcrane follow --dir /,
	'the message says how to go on');
is(state_kv($dir, 'follow.phase'), 'failed', 'the state records the failure');
is($dst->safe_psql('dml', 'SELECT count(*) FROM gen WHERE id = 10'), '0',
	'the change after the schema change is not applied');

# With no follow running the cutover catches up itself, and stops at the
# same schema change.
my ($rc, $out, $stderr) = run_pgcrane('cutover', '--dir', $dir, '--timeout', '2');
is($rc, 2, 'cutover fails while the follow cannot go on');
like($stderr, qr/no pgcrane follow runs on "[^"]+": catching up to the cutover here/,
	'cutover says that no follow runs and it catches up itself');
like($stderr, qr/error: (the columns of table "public\.gen" changed on the source|column "extra" of table "public\.gen" does not exist on the target)/,
	'cutover stops at the schema change');
# The request would stay for the next follow; this test goes on following.
system('sqlite3', "$dir/state.db", "DELETE FROM kv WHERE key = 'cutover.requested'");

$dst->safe_psql('dml', 'ALTER TABLE gen ADD COLUMN extra text');
$src->safe_psql('dml', <<'EOSQL');
CREATE TABLE newtab (id int PRIMARY KEY, v text);
INSERT INTO newtab VALUES (1, 'new');
EOSQL
$follower = start_follow('follow2');
is(wait_background($follower, 4 * $timeout), 2, 'the follow stops at a table the target lacks');
like(slurp_if_exists("$tempdir/follow2.err"),
	qr/error: table "public\.newtab" does not exist on the target/,
	'the message names the new table');
like(slurp_if_exists("$tempdir/follow2.err"),
	qr/detail: The target has every change the source committed up to \d+\/[0-9A-F]+; nothing after it is applied/,
	'the message says how far the target is');

$dst->safe_psql('dml', 'CREATE TABLE newtab (id int PRIMARY KEY, v text)');
$follower = start_follow('follow3');
source_then_wait("INSERT INTO newtab VALUES (2, 'newer')", 'the changes after both schema changes');
is($dst->safe_psql('dml', 'SELECT extra FROM gen WHERE id = 10'), 'after the change',
	'the change after the first schema change is applied');

# ---------- Ctrl-C ----------

ok(kill('INT', $follower), 'the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, 'the follow stops with exit code 130');
is(state_kv($dir, 'follow.phase'), 'stopped', 'the state records the stop');
like(slurp_if_exists("$tempdir/follow3.err"), qr/stopped; resume with: pgcrane follow --dir /,
	'the follow says how to resume');

$src->safe_psql('dml', <<'EOSQL');
INSERT INTO orders VALUES (4, 40);
UPDATE docs SET note = 'last' WHERE id = 1;
SELECT nextval('standalone_seq');
SELECT setval('parent_t_id_seq', 500);
EOSQL
$follower = start_follow('follow4');
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, $timeout),
	'the follow runs again');

# ---------- cutover ----------

($rc, $out, $stderr) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout,
	'--drop-slot', '--json');
is($rc, 0, 'cutover --drop-slot succeeds');
like($out, qr/"status": "done"/, 'cutover --json prints the summary');
like($out, qr/"cleaned_up": true/, 'the summary says the slot is gone');
is(wait_background($follower, $timeout), 0, 'the follow ends after the cutover')
  or diag(slurp_if_exists("$tempdir/follow4.err"));

tables_equal($src, 'dml', $dst, 'dml');
sequences_equal($src, 'dml', $dst, 'dml');
schema_dump_equal($src, 'dml', $dst, 'dml');
is($src->safe_psql('dml', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot left on the source');
is($dst->safe_psql('dml', 'SELECT count(*) FROM pg_replication_origin'),
	'0', 'no replication origin left on the target');

note("follow:\n"
	  . slurp_if_exists("$tempdir/follow.err")
	  . slurp_if_exists("$tempdir/follow4.err"));
done_testing();
