
# Copyright (c) pgcrane contributors

# Changes held and sent as statements of many rows (compact.h): a backlog
# of small source transactions, each a step of a sequence on one row that
# the target transaction then holds with many others, applied with one
# lane and with two:
#
#  - insert then updates (one leaving a TOASTed value unchanged), insert
#    then delete, delete then insert, update then delete, a key taken
#    again after a row moved to another key, ON CONFLICT DO UPDATE;
#  - a unique index besides the key whose values rows pass on, a table
#    without a key (REPLICA IDENTITY FULL) with updates between its
#    inserts, a table with a trigger that fires on the target (and checks
#    that every update of its rows arrives, in order), an identity
#    column, array, domain and enum values, and a table of 1,100 columns
#    (more parameters than one statement takes for 64 rows);
#  - a unique index created on the target after the follow described the
#    table, which held rows sent in another order than the source's meet:
#    those transactions are applied again change by change;
#  - updates of rows missing on the target: counted, and said how many;
#  - after the cutover every table is the same on both sides.

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
my ($rc, $out, $err);
my $follower;
my $run = 0;
my $marker = 0;

$src->safe_psql('postgres', 'CREATE DATABASE cmp');
$src->safe_psql('cmp', <<'EOSQL');
CREATE DOMAIN posint AS integer CHECK (VALUE >= 0);
CREATE TYPE mood AS ENUM ('a', 'b', 'c');
CREATE TABLE kv (id integer PRIMARY KEY, v text, big text, n integer[], d posint, e mood);
ALTER TABLE kv ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO kv SELECT g, 'v' || g, repeat(md5(g::text), 100), ARRAY[g], g, 'a'
  FROM generate_series(1, 2000) g;
CREATE TABLE uq (id integer PRIMARY KEY, email text UNIQUE);
INSERT INTO uq SELECT g, 'e' || g FROM generate_series(1, 1300) g;
CREATE TABLE app (a integer, b text);
ALTER TABLE app REPLICA IDENTITY FULL;
CREATE TABLE trg (id integer PRIMARY KEY, v integer NOT NULL);
INSERT INTO trg SELECT g, 0 FROM generate_series(0, 9) g;
CREATE TABLE idt (id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);
CREATE TABLE marker (id integer PRIMARY KEY);
CREATE TABLE dlk (id integer PRIMARY KEY, v integer, big text);
ALTER TABLE dlk ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO dlk SELECT g, CASE WHEN g % 2 = 0 THEN g / 2 END, repeat(md5(g::text), 100)
  FROM generate_series(1, 2001) g;
DO $$
BEGIN
  EXECUTE (SELECT 'CREATE TABLE wide (id integer PRIMARY KEY, '
           || string_agg(format('c%s integer', g), ', ' ORDER BY g) || ')'
           FROM generate_series(1, 1100) g);
END $$;
EOSQL

# ---------- functions ----------

sub start_follow
{
	my @opts = @_;
	$run++;
	$follower = start_background($tempdir, "follow$run", pgcrane_path(), 'follow',
		'--dir', $dir, @opts);
	ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
		"follow @opts streams")
	  or diag(slurp_if_exists("$tempdir/follow$run.err"));
	return;
}

sub stop_follow
{
	my ($what) = @_;
	kill 'INT', $follower;
	is(wait_background($follower, 4 * $timeout), 130, "$what: the follower stops on SIGINT");
	return;
}

# Wait until the target has everything the source committed so far.
sub caught_up
{
	my ($what) = @_;
	$marker++;
	$src->safe_psql('cmp', "INSERT INTO marker VALUES ($marker)");
	ok( poll_until(
			sub {
				$dst->safe_psql('cmp', "SELECT count(*) FROM marker WHERE id = $marker") eq
				  '1';
			},
			4 * $timeout),
		"$what: the target caught up")
	  or diag(slurp_if_exists("$tempdir/follow$run.err"));
	return;
}

# The sequences, every step its own source transaction, with rows of
# iteration k at offset $off.
sub workload
{
	my ($off) = @_;
	$src->safe_psql('cmp', <<"EOSQL");
DO \$\$
DECLARE
  o integer := $off;
BEGIN
  FOR k IN o + 1 .. o + 300 LOOP
    INSERT INTO kv VALUES (100000 + k, 'i' || k, repeat(md5(k::text), 200), ARRAY[k, k + 1], k, 'b');
    COMMIT;
    UPDATE kv SET v = 'u' || k WHERE id = 100000 + k;  -- big unchanged, not sent
    COMMIT;
    UPDATE kv SET n = ARRAY[k], e = 'c' WHERE id = 100000 + k;
    COMMIT;
    IF k % 3 = 0 THEN
      DELETE FROM kv WHERE id = 100000 + k;
      COMMIT;
    END IF;
    IF k % 5 = 0 THEN
      INSERT INTO kv VALUES (100000 + k, 'again') ON CONFLICT (id) DO UPDATE SET v = 'conflict';
      COMMIT;
    END IF;
    UPDATE kv SET v = 'x' || k WHERE id = k;
    COMMIT;
    IF k % 4 = 0 THEN
      DELETE FROM kv WHERE id = k;
      COMMIT;
      INSERT INTO kv VALUES (k, 'reborn', repeat('z', 3000), '{}', 0, 'c');
      COMMIT;
    END IF;
    IF k % 7 = 0 THEN
      UPDATE kv SET big = NULL WHERE id = k;
      COMMIT;
      DELETE FROM kv WHERE id = k;
      COMMIT;
    END IF;
    IF k % 11 = 0 THEN
      UPDATE kv SET v = 'before the move' WHERE id = 500 + k;
      COMMIT;
      UPDATE kv SET id = id + 50000 WHERE id = 500 + k;
      COMMIT;
      INSERT INTO kv (id, v) VALUES (500 + k, 'taken again');
      COMMIT;
      UPDATE kv SET d = 7 WHERE id = 500 + k;
      COMMIT;
    END IF;
    UPDATE uq SET email = NULL WHERE id = 2 * k;
    COMMIT;
    UPDATE uq SET email = 'e' || (2 * k) WHERE id = 2 * k + 1;
    COMMIT;
    INSERT INTO app VALUES (k, 'a' || k);
    COMMIT;
    IF k % 10 = 0 THEN
      UPDATE app SET b = 'updated' WHERE a = k - 5;
      COMMIT;
    END IF;
    UPDATE trg SET v = v + 1 WHERE id = k % 10;
    COMMIT;
    INSERT INTO idt (v) VALUES ('r' || k);
    COMMIT;
    IF k % 6 = 0 THEN
      UPDATE idt SET v = 'ru' WHERE id = k;
      COMMIT;
    END IF;
  END LOOP;
  INSERT INTO wide (id, c1) SELECT g, g FROM generate_series(o + 1, o + 100) g;
  COMMIT;
  UPDATE wide SET c500 = id, c1100 = -id WHERE id > o;
  COMMIT;
  DELETE FROM wide WHERE id > o AND id % 9 = 0;
  COMMIT;
END \$\$;
EOSQL
	return;
}

# ---------- clone --follow, one lane ----------

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--apply-jobs', '1', '--source' => $src->connstr('cmp'),
	'--target' => $dst->connstr('cmp'), '--dir' => $dir);
$follower = $clone;
ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
	'clone --follow --apply-jobs 1 streams')
  or diag(slurp_if_exists("$tempdir/clone.err"));
$dst->safe_psql('cmp', <<'EOSQL');
CREATE FUNCTION one_step() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.v <> OLD.v + 1 THEN
    RAISE EXCEPTION 'row % went from % to %', OLD.id, OLD.v, NEW.v;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER trg_step BEFORE UPDATE ON trg FOR EACH ROW EXECUTE FUNCTION one_step();
ALTER TABLE trg ENABLE ALWAYS TRIGGER trg_step;
EOSQL
caught_up('the trigger is in place');
kill 'INT', $clone;
is(wait_background($clone, 4 * $timeout), 130, 'clone --follow stops on SIGINT');

# A backlog: the follower meets it in full target transactions.
workload(0);
start_follow('--apply-jobs', '1');
caught_up('one lane');
tables_equal($src, 'cmp', $dst, 'cmp');
unlike(slurp_if_exists("$tempdir/follow$run.err"), qr/error:/,
	'one lane: the target\'s trigger saw every update of its table, in order');
is(state_kv($dir, 'follow.missing_rows'), '0', 'one lane: every update and delete found its row');

# ---------- a unique index the follow does not know ----------

# Created on the target after the follow described the table, so its rows
# are held as if the key were its only unique index.  Each round moves a
# value from an even row to the next odd one; the taking update also sets
# the TOASTed column, so the held rows form two statements and the taking
# ones go first: they meet the values still taken.  The follow then
# applies those transactions one change after the other, in the source's
# order, and goes on.
$src->safe_psql('cmp', 'UPDATE dlk SET v = NULL WHERE id = 1');
caught_up('dlk is known');
$dst->safe_psql('cmp', 'CREATE UNIQUE INDEX dlk_v ON dlk (v)');
kill 'STOP', $follower;
$src->safe_psql('cmp', <<'EOSQL');
DO $$
BEGIN
  FOR k IN 1..1000 LOOP
    UPDATE dlk SET v = NULL WHERE id = 2 * k;
    COMMIT;
    UPDATE dlk SET v = k, big = 'b' || k WHERE id = 2 * k + 1;
    COMMIT;
  END LOOP;
END $$;
EOSQL
kill 'CONT', $follower;
caught_up('dlk moved its values');
like(slurp_if_exists("$tempdir/follow$run.err"),
	qr/changes applied together met a unique constraint of the target; applying them one by one up to source commit/,
	'held rows that meet an index the follow did not know are applied again one by one');
unlike(slurp_if_exists("$tempdir/follow$run.err"), qr/error:/, 'and no error is shown');
is($dst->safe_psql('cmp', 'SELECT count(*) FROM dlk WHERE v IS NOT NULL AND id % 2 = 1'), '1000',
	'dlk holds every value once, in the odd rows');
$dst->safe_psql('cmp', 'DROP INDEX dlk_v');

# ---------- rows missing on the target ----------

stop_follow('one lane');
$dst->safe_psql('cmp', 'DELETE FROM kv WHERE id BETWEEN 1501 AND 1510');
$src->safe_psql('cmp', "UPDATE kv SET v = 'all' WHERE id BETWEEN 1501 AND 1540");
start_follow('--apply-jobs', '1');
caught_up('updates of missing rows');
is(state_kv($dir, 'follow.missing_rows'), '10', 'ten updates found no row, and are counted');
like(
	slurp_if_exists("$tempdir/follow$run.err"),
	qr/warning: \d+ of \d+ rows to update in table "public\.kv" were not found on the target \(source commits up to [0-9A-F]+\/[0-9A-F]+\)/,
	'the warning says how many of a statement\'s rows were not found');
is($dst->safe_psql('cmp', "SELECT count(*) FROM kv WHERE id BETWEEN 1511 AND 1540 AND v = 'all'"),
	'30', 'the other rows of the statement are updated');
stop_follow('missing rows');
my $copy = $src->safe_psql('cmp',
	'COPY (SELECT * FROM kv WHERE id BETWEEN 1501 AND 1510) TO STDOUT');
$dst->safe_psql('cmp', "COPY kv FROM STDIN;\n$copy\n\\.\n");

# ---------- two lanes ----------

workload(300);
start_follow('--apply-jobs', '2');
caught_up('two lanes');
tables_equal($src, 'cmp', $dst, 'cmp');
unlike(slurp_if_exists("$tempdir/follow$run.err"), qr/error:/,
	'two lanes: the target\'s trigger saw every update of its table, in order');
is($dst->safe_psql('cmp', 'SELECT sum(v) FROM trg'), '600', 'two lanes: trg took every step');

# ---------- cutover ----------

$dst->safe_psql('cmp', 'DROP TRIGGER trg_step ON trg; DROP FUNCTION one_step()');
($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($err);
is(wait_background($follower, 4 * $timeout), 0, 'the follower ends after the cutover')
  or diag(slurp_if_exists("$tempdir/follow$run.err"));
tables_equal($src, 'cmp', $dst, 'cmp');
sequences_equal($src, 'cmp', $dst, 'cmp');
is(state_kv($dir, 'follow.missing_rows'), '10', 'no other row was missing');
($rc, $out, $err) = run_pgcrane('verify', '--source' => $src->connstr('cmp'),
	'--target' => $dst->connstr('cmp'));
is($rc, 0, 'pgcrane verify finds the databases equal') or diag($err);
($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
is($rc, 0, 'cleanup succeeds') or diag($err);

done_testing();
