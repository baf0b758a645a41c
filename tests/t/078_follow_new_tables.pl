
# Copyright (c) pgcrane contributors

# Tables created on the source during a follow under selection rules
# (publication FOR TABLE): a table that an include pattern selects joins
# the publication with its rows while it is being written, and arrives
# whole; a table the rules leave out is not published nor made; a table
# the rules rename stops the follow, named; so does a selected table with
# --ddl=stop; a kill -9 while a new table's rows are copied loses and
# doubles nothing.  After the cutover verify --dir says OK.

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

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
CREATE TABLE orders (id serial PRIMARY KEY, v int NOT NULL);
INSERT INTO orders (v) SELECT g FROM generate_series(1, 500) g;
CREATE TABLE other (id int PRIMARY KEY);
CREATE SCHEMA sales;
CREATE TABLE sales.region (id int PRIMARY KEY, name text);
INSERT INTO sales.region VALUES (1, 'north'), (2, 'south');
EOSQL
my $source = $src->connstr('shop');
my $target = $dst->connstr('shop');

sub publication_has
{
	my ($table) = @_;
	return $src->safe_psql('shop',
		"SELECT count(*) FROM pg_publication_tables WHERE schemaname || '.' || tablename = '$table'");
}

sub start_follow
{
	my ($name, @opts) = @_;
	my $f = start_background($tempdir, $name, pgcrane_path(), 'follow', '--dir', $dir, @opts);
	ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
		"$name: the follow streams")
	  or diag(slurp_if_exists("$tempdir/$name.err"));
	return $f;
}

# Stop the follow of pid $pid and wait for it.
sub stop_follow
{
	my ($pid) = @_;
	kill('INT', $pid);
	return wait_background($pid, 4 * $timeout);
}

my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source', $source, '--target', $target, '--dir', $dir, '--jobs', '2',
	'--include-table', 'public.ord*', '--include-table', 'sales.*',
	'--rename-schema', 'sales=shop');
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'clone --follow follows the selected tables')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is(publication_has('public.other'), '0', 'a table the patterns do not select is not published');

# ---------- a new table an include pattern selects, written all along ----------

$src->safe_psql('shop', <<'EOSQL');
CREATE TABLE order_notes (id serial PRIMARY KEY, order_id int, note text);
INSERT INTO order_notes (order_id, note) SELECT g, 'before ' || g FROM generate_series(1, 1000) g;
EOSQL
my $script = "$tempdir/notes.sql";
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'EOS';
\set o random(1, 500)
INSERT INTO order_notes (order_id, note) VALUES (:o, 'during');
UPDATE order_notes SET note = note || '+' WHERE id = :o;
UPDATE orders SET v = v + 1 WHERE id = :o;
EOS
close $fh;
my $bench = start_background($tempdir, 'notes', 'pgbench', '-n', '-f', $script,
	'-c', '2', '-T', '6', $source);
ok(poll_until(sub { publication_has('public.order_notes') eq '1' }),
	'a new table matching an include pattern joins the publication during the follow')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is(wait_background($bench, 4 * $timeout), 0, 'the writes to it succeed meanwhile')
  or diag(slurp_if_exists("$tempdir/notes.err"));
$src->safe_psql('shop', "DELETE FROM order_notes WHERE id % 7 = 0");

# A table no pattern selects is neither published nor made.
$src->safe_psql('shop', 'CREATE TABLE misc (id int PRIMARY KEY); INSERT INTO misc VALUES (1)');
sleep 3;
is(publication_has('public.misc'), '0', 'a new table the rules leave out is not published');

# ---------- a new table the rules rename: a stop, named ----------

my $pid = state_kv($dir, 'follow.pid');
$src->safe_psql('shop', 'CREATE TABLE sales.extra (id int PRIMARY KEY)');
my $rc = wait_background($pid, 4 * $timeout);
ok(defined $rc && $rc != 0, 'a new table in a renamed schema stops the follow');
like(slurp_if_exists("$tempdir/clone.err"),
	qr/^pgcrane: error: table "sales\.extra" created on the source during the follow is renamed or narrowed by the selection rules$/m,
	'and the stop names it');
is(publication_has('sales.extra'), '0', 'it is not published');
$src->safe_psql('shop', 'DROP TABLE sales.extra');

# ---------- --ddl=stop: a selected new table stops the follow ----------

my $f = start_follow('follow-stop', '--ddl=stop');
$src->safe_psql('shop', 'CREATE TABLE ord_late (id int PRIMARY KEY)');
$rc = wait_background($f, 4 * $timeout);
ok(defined $rc && $rc != 0, '--ddl=stop: a new selected table stops the follow');
like(slurp_if_exists("$tempdir/follow-stop.err"),
	qr/^pgcrane: error: table "public\.ord_late" created on the source during the follow: publication "[^"]+" does not hold it, so its changes would be lost$/m,
	'--ddl=stop: named');
like(slurp_if_exists("$tempdir/follow-stop.err"), qr/^pgcrane: hint: With --ddl=apply the follow adds such a table/m,
	'--ddl=stop: with what to do');

# ---------- --ddl=apply again: the table is taken in, then the cutover ----------

$f = start_follow('follow-apply', '--ddl=apply');
ok(poll_until(sub { publication_has('public.ord_late') eq '1' }),
	'--ddl=apply: the table that stopped the follow is taken in');
$src->safe_psql('shop', 'INSERT INTO ord_late VALUES (1), (2)');

# ---------- kill -9 while a new table's rows are copied ----------

# Whenever the kill lands (before the source's COMMIT: the next follow
# copies the table again into the target table it made; after: the
# table is published and whole), the target ends up with every row once.
$src->safe_psql('shop', q{CREATE TABLE order_big (id int PRIMARY KEY, pad text);
	INSERT INTO order_big SELECT g, repeat('x', 200) FROM generate_series(1, 300000) g});
my $big_oid = $src->safe_psql('shop', "SELECT 'order_big'::regclass::oid");
ok(poll_until(sub { $dst->safe_psql('shop', "SELECT to_regclass('public.order_big') IS NOT NULL") eq 't' }),
	'kill: the new table is made on the target');
my $fpid = state_kv($dir, 'follow.pid');
ok(kill('KILL', $fpid), 'kill: the follow is killed with SIGKILL while the rows are copied');
wait_background($f, $timeout);
$f = start_follow('follow-after-kill', '--ddl=apply');
ok(poll_until(sub { publication_has('public.order_big') eq '1' }),
	'kill: the next follow takes the table in');
$src->safe_psql('shop', 'UPDATE order_big SET pad = \'y\' WHERE id <= 10');
ok(poll_until(sub { $dst->safe_psql('shop', "SELECT count(*), count(*) FILTER (WHERE pad = 'y') FROM order_big") eq '300000|10' }),
	'kill: every row is on the target once, with the changes after');
is(state_kv($dir, "follow.adopting.$big_oid"), '', 'kill: nothing is left recorded as being taken in');

($rc, my $out, my $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($err);
is(wait_background($f, $timeout), 0, 'the follower ends after the cutover')
  or diag(slurp_if_exists("$tempdir/follow-after-kill.err"));

is($dst->safe_psql('shop', 'SELECT count(*), sum(order_id), count(*) FILTER (WHERE note LIKE \'%+\') FROM order_notes'),
	$src->safe_psql('shop', 'SELECT count(*), sum(order_id), count(*) FILTER (WHERE note LIKE \'%+\') FROM order_notes'),
	'the new table holds its rows from before, during and after it joined');
is($dst->safe_psql('shop', 'SELECT count(*) FROM ord_late'), '2', 'the table taken in late has its rows');
is($dst->safe_psql('shop', "SELECT to_regclass('public.misc') IS NULL AND to_regclass('shop.region') IS NOT NULL"),
	't', 'the table left out is not on the target; the renamed schema is');
is($dst->safe_psql('shop', "SELECT last_value FROM order_notes_id_seq"),
	$src->safe_psql('shop', "SELECT last_value FROM order_notes_id_seq"),
	'the cutover sets the new table\'s sequence');
like(slurp_if_exists("$tempdir/clone.err"),
	qr/^pgcrane: table "public\.order_notes" is new on the source: it joined publication "[^"]+" and its \d+ rows were copied to the target$/m,
	'the follow names the table it took in');

($rc, $out, $err) = run_pgcrane('verify', '--source', $source, '--target', $target, '--dir', $dir);
is($rc, 0, 'verify --dir is OK') or diag($out . $err);

($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
is($rc, 0, 'cleanup succeeds') or diag($err);
is($src->safe_psql('shop', 'SELECT count(*) FROM pg_publication'), '0',
	'cleanup drops the publication');

done_testing();
