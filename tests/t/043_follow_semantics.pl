
# Copyright (c) pgcrane contributors

# Apply semantics at least as good as a native subscription:
#  - UPDATE ... SET id = DEFAULT on a GENERATED ALWAYS identity column,
#    as the primary key (with a referencing table whose ON DELETE CASCADE
#    must not fire on the target, and a TOASTed value the update leaves
#    unchanged), as a column outside the key, and under REPLICA IDENTITY
#    FULL;
#  - REPLICA IDENTITY FULL with a composite column and other user types
#    (enum, domain, arrays of them, range, array of a composite);
#  - REPLICA IDENTITY FULL among rows that are equal but not identical
#    (numeric 1.1 and 1.10, float 0 and -0, citext 'A' and 'a'): the
#    identical row changes;
#  - preflight --follow refuses a DEFERRABLE primary key as the replica
#    identity, as PostgreSQL does.

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

my $follower;

# Run SQL on the source, then wait until the target has the marker row
# added after it: everything before it is applied.
my $mark = 0;
sub source_then_wait
{
	my ($sql, $what) = @_;
	$mark++;
	$src->safe_psql('sem', $sql);
	$src->safe_psql('sem', "INSERT INTO marker VALUES ($mark)");
	for (my $i = 0; $i < $timeout * 5; $i++)
	{
		if ($dst->safe_psql('sem', "SELECT count(*) FROM marker WHERE id = $mark") eq '1')
		{
			pass("the target received $what");
			return;
		}
		my $rc = wait_background($follower, 0.2);
		if (defined $rc)
		{
			fail("the target received $what");
			diag("the follower ended with exit code $rc:\n"
				  . slurp_if_exists("$tempdir/clone.err"));
			BAIL_OUT('the follower ended');
		}
	}
	fail("the target received $what");
}

# The same rows on both sides, by a query printing them in order.
sub same_rows
{
	my ($sql, $what) = @_;
	is($dst->safe_psql('sem', $sql), $src->safe_psql('sem', $sql), $what);
}

# ---------- the source ----------

$src->safe_psql('postgres', 'CREATE DATABASE sem');
$src->safe_psql('sem', <<'EOSQL');
CREATE EXTENSION citext;
CREATE TYPE pair AS (x int, y text);
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE TABLE marker (id int PRIMARY KEY);

-- identity as the primary key, referenced, with a TOASTed column
CREATE TABLE idk (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text, big text);
ALTER TABLE idk ALTER big SET STORAGE EXTERNAL;
CREATE TABLE idk_ref (rid int PRIMARY KEY,
                      kid int REFERENCES idk (id) ON UPDATE CASCADE ON DELETE CASCADE);
INSERT INTO idk (v, big) SELECT 'v' || i, repeat(md5(i::text), 200)
  FROM generate_series(1, 5) AS i;
INSERT INTO idk_ref SELECT i, i FROM generate_series(1, 5) AS i;
SELECT setval('idk_id_seq', 10);

-- identity outside the key
CREATE TABLE idn (k int PRIMARY KEY, id int GENERATED ALWAYS AS IDENTITY, v text);
INSERT INTO idn (k, v) SELECT i, 'v' || i FROM generate_series(1, 5) AS i;
SELECT setval('idn_id_seq', 10);

-- identity under FULL
CREATE TABLE idf (id int GENERATED ALWAYS AS IDENTITY, v text, big text);
ALTER TABLE idf REPLICA IDENTITY FULL;
ALTER TABLE idf ALTER big SET STORAGE EXTERNAL;
INSERT INTO idf (v, big) SELECT 'v' || i, repeat(md5(i::text), 200)
  FROM generate_series(1, 5) AS i;
SELECT setval('idf_id_seq', 10);

-- identity in the replica identity index
CREATE TABLE idu (id int GENERATED ALWAYS AS IDENTITY, k int NOT NULL, v text,
                  CONSTRAINT idu_key UNIQUE (id, k));
ALTER TABLE idu REPLICA IDENTITY USING INDEX idu_key;
INSERT INTO idu (k, v) SELECT i, 'v' || i FROM generate_series(1, 5) AS i;
SELECT setval('idu_id_seq', 10);

-- user types under FULL
CREATE TABLE comp (a int, p pair);
ALTER TABLE comp REPLICA IDENTITY FULL;
INSERT INTO comp VALUES (1, '(1,one)'), (2, '(2,two)'), (3, NULL), (4, '(,)');
CREATE TABLE utypes (m mood, d posint, ma mood[], r int4range, pa pair[],
                     da posint[], tr tstzrange);
ALTER TABLE utypes REPLICA IDENTITY FULL;
INSERT INTO utypes VALUES
  ('ok', 5, '{sad,happy}', '[1,5)', ARRAY['(1,a)', '(2,b)']::pair[], '{1,2}',
   '[2024-01-01 00:00+00,2024-02-01 00:00+00)'),
  ('sad', 1, '{}', 'empty', '{}', NULL, NULL);

-- equal but not identical rows under FULL
CREATE TABLE eqn (n numeric);
CREATE TABLE eqf (f float8);
CREATE TABLE eqc (c citext);
ALTER TABLE eqn REPLICA IDENTITY FULL;
ALTER TABLE eqf REPLICA IDENTITY FULL;
ALTER TABLE eqc REPLICA IDENTITY FULL;
INSERT INTO eqn VALUES (1.1), (1.10), (1.100);
INSERT INTO eqf VALUES ('0'), ('-0');
INSERT INTO eqc VALUES ('A'), ('a');
EOSQL

# ---------- clone --follow ----------

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source' => $src->connstr('sem'),
	'--target' => $dst->connstr('sem'),
	'--dir' => $dir);
$follower = $clone;
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'the changes are being applied')
  or diag(slurp_if_exists("$tempdir/clone.err"));

# ---------- identity columns ----------

source_then_wait(<<'EOSQL', 'new values of an identity primary key');
UPDATE idk SET id = DEFAULT;
UPDATE idk SET v = v || 'x' WHERE id = 12;
EOSQL
same_rows('SELECT id, v, md5(big) FROM idk ORDER BY id',
	'the identity key has its new values (11..15) and the unchanged TOASTed value');
is($dst->safe_psql('sem', 'SELECT string_agg(id::text, \',\' ORDER BY id) FROM idk'),
	'11,12,13,14,15', 'the target holds 11..15');
same_rows('SELECT rid, kid FROM idk_ref ORDER BY rid',
	'the referencing rows follow the cascade, and no delete cascaded on the target');

source_then_wait(<<'EOSQL', 'new values of an identity column outside the key');
UPDATE idn SET id = DEFAULT WHERE k <= 3;
UPDATE idn SET v = 'same id' WHERE k = 4;
UPDATE idn SET id = DEFAULT, v = 'both' WHERE k = 5;
UPDATE idn SET k = 50 WHERE k = 5;
EOSQL
same_rows('SELECT k, id, v FROM idn ORDER BY k', 'the identity column outside the key is applied');

source_then_wait(<<'EOSQL', 'new values of an identity column under FULL');
UPDATE idf SET id = DEFAULT WHERE id <= 4;
UPDATE idf SET v = 'changed' WHERE id = 5;
DELETE FROM idf WHERE id = 11;
EOSQL
same_rows('SELECT id, v, md5(big) FROM idf ORDER BY id',
	'the identity column under FULL is applied, the TOASTed value kept');

source_then_wait(<<'EOSQL', 'new values of an identity column in the identity index');
UPDATE idu SET id = DEFAULT WHERE k <= 2;
UPDATE idu SET id = DEFAULT, k = k * 10, v = 'both' WHERE k = 3;
UPDATE idu SET v = 'same' WHERE k = 4;
EOSQL
same_rows('SELECT id, k, v FROM idu ORDER BY k', 'the identity column in the identity index is applied');

# ---------- user types under FULL ----------

source_then_wait(<<'EOSQL', 'changes to rows with a composite column');
UPDATE comp SET a = a * 10;
UPDATE comp SET p = '(22,"two two")' WHERE a = 20;
DELETE FROM comp WHERE a = 10;
DELETE FROM comp WHERE p IS NULL;
EOSQL
same_rows('SELECT a, p FROM comp ORDER BY a', 'the composite rows are updated and deleted');

source_then_wait(<<'EOSQL', 'changes to rows of enums, domains, ranges and arrays');
UPDATE utypes SET m = 'happy', r = '[2,3]';
UPDATE utypes SET d = 2 WHERE d = 1;
DELETE FROM utypes WHERE m = 'happy' AND d = 5;
EOSQL
same_rows('SELECT m, d, ma, r, pa, da, tr FROM utypes ORDER BY d',
	'the rows of user types are updated and deleted');

# ---------- equal but not identical ----------

# Each statement changes the second row (by its text): the target must
# change that same row, not the first equal one.
source_then_wait(<<'EOSQL', 'changes among equal rows');
UPDATE eqn SET n = 2 WHERE n::text = '1.10';
DELETE FROM eqn WHERE n::text = '1.100';
UPDATE eqf SET f = 7 WHERE f::text = '-0';
UPDATE eqc SET c = 'changed' WHERE c::text = 'a';
EOSQL
same_rows('SELECT n::text FROM eqn ORDER BY 1', 'numeric: the identical row changed');
same_rows('SELECT f::text FROM eqf ORDER BY 1', 'float: the identical row changed');
same_rows('SELECT c::text FROM eqc ORDER BY 1', 'citext: the identical row changed');

tables_equal($src, 'sem', $dst, 'sem');
is(state_kv($dir, 'follow.missing_rows'), '0', 'every update and delete found its row');

ok(kill('INT', $follower), 'the follow gets SIGINT');
is(wait_background($follower, $timeout), 130, 'the follow stops');
note("clone --follow:\n" . slurp_if_exists("$tempdir/clone.err"));

# ---------- a DEFERRABLE primary key is no replica identity ----------

$src->safe_psql('postgres', 'CREATE DATABASE dk');
$src->safe_psql('dk', <<'EOSQL');
CREATE TABLE dk (id int PRIMARY KEY DEFERRABLE, v text);
CREATE TABLE ok (id int PRIMARY KEY, v text);
INSERT INTO dk VALUES (1, 'a');
EOSQL
my ($rc, $out, $err) = run_pgcrane('preflight', '--follow',
	'--source' => $src->connstr('dk'),
	'--target' => $dst->connstr('dk_copy'));
isnt($rc, 0, 'preflight --follow fails for a DEFERRABLE primary key');
like($err, qr/error: table "public\.dk" has no replica identity: its updates and deletes cannot be followed/,
	'the table with a DEFERRABLE key is named');
like($err, qr/detail: Its primary key "dk_pkey" is DEFERRABLE/,
	'the detail says what is wrong with the key');
unlike($err, qr/table "public\.ok"/, 'the table with an immediate key passes');

# What preflight predicts is what PostgreSQL does once the table is published.
$src->safe_psql('dk', 'CREATE PUBLICATION dk_pub FOR TABLE dk');
my ($prc, $pout, $perr) = $src->psql('dk', "UPDATE dk SET v = 'b'");
like($perr, qr/cannot update table "dk" because it does not have a replica identity/,
	'PostgreSQL refuses the update of a published table with a DEFERRABLE key');

done_testing();
