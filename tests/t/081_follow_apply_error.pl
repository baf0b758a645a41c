
# Copyright (c) pgcrane contributors

# A change the target refuses, in the middle of a backlog: the follow
# stops there, and nothing after it reaches the target, although the
# target transactions after it were already sent (pipeline mode).  Once
# the target is fixed, the follow goes on from the refused transaction,
# and every transaction arrives once.

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

$src->safe_psql('postgres', 'CREATE DATABASE ae');
$src->safe_psql('ae', <<'EOSQL');
CREATE TABLE t (id integer PRIMARY KEY, v text);
CREATE TABLE log (n integer PRIMARY KEY);
EOSQL

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--apply-jobs', '1', '--source' => $src->connstr('ae'),
	'--target' => $dst->connstr('ae'), '--dir' => $dir);
ok(wait_state_kv($dir, 'follow.phase', qr/^streaming$/, 4 * $timeout),
	'clone --follow streams')
  or diag(slurp_if_exists("$tempdir/clone.err"));
kill 'INT', $clone;
is(wait_background($clone, 4 * $timeout), 130, 'clone --follow stops on SIGINT');

# On the target only: the row the source inserts in transaction 1,000.
$dst->safe_psql('ae', "INSERT INTO t VALUES (1000, 'target only')");
$src->safe_psql('ae', <<'EOSQL');
DO $$
BEGIN
  FOR k IN 1..5000 LOOP
    INSERT INTO log VALUES (k);
    IF k = 1000 THEN
      INSERT INTO t VALUES (1000, 'source');
    END IF;
    COMMIT;
  END LOOP;
END $$;
EOSQL
my $follow = start_background($tempdir, 'follow1', pgcrane_path(), 'follow', '--dir', $dir);
isnt(wait_background($follow, 4 * $timeout), 0, 'the follow stops at the refused change');
like(slurp_if_exists("$tempdir/follow1.err"), qr/duplicate key value violates unique constraint "t_pkey"/,
	'and says why');
my $max = $dst->safe_psql('ae', 'SELECT coalesce(max(n), 0) FROM log');
cmp_ok($max, '<', 1000, "nothing after the refused transaction reached the target (log up to $max)");
is($dst->safe_psql('ae', 'SELECT count(*) FROM log'), $max, 'and nothing before it is missing');

$dst->safe_psql('ae', 'DELETE FROM t WHERE id = 1000');
$follow = start_background($tempdir, 'follow2', pgcrane_path(), 'follow', '--dir', $dir);
ok(poll_until(sub { $dst->safe_psql('ae', 'SELECT count(*) FROM log') eq '5000' }, 4 * $timeout),
	'once the target is fixed, every transaction arrives')
  or diag(slurp_if_exists("$tempdir/follow2.err"));
is($dst->safe_psql('ae', "SELECT v FROM t WHERE id = 1000"), 'source', 'the refused one too');
kill 'INT', $follow;
wait_background($follow, 4 * $timeout);

done_testing();
