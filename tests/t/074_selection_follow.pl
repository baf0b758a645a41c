
# Copyright (c) pgcrane contributors

# Follow under selection and transformation rules on pagila: clone
# --follow leaving out public.film_actor (and the views over it, with
# --exclude-dependents), renaming schema public to app
# and leaving out column public.customer.email, while pgbench inserts,
# updates and deletes on the source (the excluded table and column too).
# The publication holds only the copied tables, the changes land in the
# renamed tables without the column, and after the cutover verify --dir
# (which applies the recorded rules) says OK.

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

load_dataset($src, 'pagila', 'pagila');
$src->safe_psql('pagila', 'REFRESH MATERIALIZED VIEW public.rental_by_category');
# A log table without a key, left out by the rules: not published, so
# nothing to refuse and nothing to change on the source.
$src->safe_psql('pagila', 'CREATE TABLE public.audit_log (at timestamptz, what text)');
my $source = $src->connstr('pagila');
my $target = $dst->connstr('pagila');

# Preflight checks only what the rules follow.
my ($prc, $pout, $perr) = run_pgcrane('preflight', '--follow', '--source', $source,
	'--target', $target, '--exclude-table', 'public.audit_log',
	'--exclude-table', 'public.film_actor', '--exclude-dependents',
	'--rename-schema', 'public=app');
is($prc, 0, 'preflight --follow: a key-less table left out by the rules is no problem')
  or diag($perr);
unlike($perr, qr/audit_log/, 'preflight --follow: the left-out table is not named');
($prc, $pout, $perr) = run_pgcrane('preflight', '--follow', '--source', $source,
	'--target', $target, '--exclude-table', 'public.film_actor', '--exclude-dependents',
	'--rename-schema', 'public=app');
is($prc, 1, 'preflight --follow: the same table followed is refused');
like($perr, qr/table "public\.audit_log" has no replica identity/,
	'preflight --follow: and named');

my $script = "$tempdir/writes.sql";
open(my $fh, '>', $script) or die "$script: $!";
print $fh <<'EOS';
\set a random(1, 200)
\set c random(1, 599)
\set f random(1, 1000)
UPDATE public.actor SET last_name = last_name || 'x' WHERE actor_id = :a;
INSERT INTO public.actor (first_name, last_name) VALUES ('NEW', 'ACTOR');
INSERT INTO public.actor (first_name, last_name) VALUES ('DEL', 'ACTOR');
DELETE FROM public.actor WHERE actor_id = (SELECT max(actor_id) FROM public.actor WHERE first_name = 'DEL');
UPDATE public.customer SET email = 'e' || :c || '@example.org' WHERE customer_id = :c;
UPDATE public.customer SET last_name = last_name || 'y', email = 'z' WHERE customer_id = :c;
INSERT INTO public.customer (store_id, first_name, last_name, email, address_id) VALUES (1, 'NEW', 'CUSTOMER', 'new@example.org', 1);
INSERT INTO public.film_actor (actor_id, film_id) VALUES (:a, :f) ON CONFLICT DO NOTHING;
DELETE FROM public.film_actor WHERE actor_id = :a AND film_id = (SELECT min(film_id) FROM public.film_actor WHERE actor_id = :a);
EOS
close $fh;

sub writes
{
	my ($name) = @_;
	return start_background($tempdir, $name, 'pgbench', '-n', '-f', $script,
		'-c', '2', '-t', '150', $source);
}

# ---------- clone --follow under the rules while the source is written ----------

my $bench1 = writes('bench1');
my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
	'--source', $source, '--target', $target, '--dir', $dir, '--jobs', '2',
	'--exclude-table', 'public.film_actor', '--exclude-dependents',
	'--exclude-table', 'public.audit_log', '--replica-identity-full',
	'--rename-schema', 'public=app',
	'--exclude-column', 'public.customer.email');
ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
	'clone --follow goes on to follow under the rules')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is($src->safe_psql('pagila',
		"SELECT relreplident FROM pg_class WHERE oid = 'public.audit_log'::regclass"),
	'd', '--replica-identity-full leaves a table the rules leave out as it was');
is(wait_background($bench1, 4 * $timeout), 0, 'the first writes succeed')
  or diag(slurp_if_exists("$tempdir/bench1.err"));

like(slurp_if_exists("$tempdir/clone.err"),
	qr/publication "[^"]+" created FOR TABLE, \d+ tables \(the tables whose rows the selection copies\)/,
	'the publication holds the copied tables');
is($src->safe_psql('pagila', q{SELECT count(*) FROM pg_publication_tables
	WHERE tablename = 'film_actor'}), '0', 'the excluded table is not published');
isnt($src->safe_psql('pagila', q{SELECT count(*) FROM pg_publication_tables
	WHERE tablename = 'actor'}), '0', 'a selected table is published');

my $bench2 = writes('bench2');
is(wait_background($bench2, 4 * $timeout), 0, 'the second writes succeed')
  or diag(slurp_if_exists("$tempdir/bench2.err"));

# ---------- cutover ----------

my ($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
is($rc, 0, 'cutover succeeds') or diag($err . slurp_if_exists("$tempdir/clone.err"));
is(wait_background($clone, $timeout), 0, 'the follower ends after the cutover')
  or diag(slurp_if_exists("$tempdir/clone.err"));
is(state_kv($dir, 'follow.missing_rows'), '0', 'every update and delete found its row');

is($dst->safe_psql('pagila', q{SELECT to_regclass('app.film_actor') IS NULL
	AND to_regclass('public.film_actor') IS NULL AND to_regclass('app.actor') IS NOT NULL}),
	't', 'the excluded table is absent on the target, the others renamed');
is($dst->safe_psql('pagila', q{SELECT count(*) FROM information_schema.columns
	WHERE table_schema = 'app' AND table_name = 'customer' AND column_name = 'email'}),
	'0', 'the excluded column is absent on the target');
is($dst->safe_psql('pagila', q{SELECT count(*) FROM app.actor WHERE first_name = 'NEW'}),
	'600', 'the inserts during the follow are applied under the new schema');
is($dst->safe_psql('pagila', q{SELECT count(*) FROM app.customer WHERE first_name = 'NEW'}),
	'600', 'inserts into a table without one of its columns are applied');
is($dst->safe_psql('pagila', q{SELECT count(*) FROM app.actor WHERE first_name = 'DEL'}),
	$src->safe_psql('pagila', q{SELECT count(*) FROM public.actor WHERE first_name = 'DEL'}),
	'the deletes are applied');
is($dst->safe_psql('pagila', q{SELECT last_value FROM app.actor_actor_id_seq}),
	$src->safe_psql('pagila', q{SELECT last_value FROM public.actor_actor_id_seq}),
	'the cutover sets the renamed sequence');

is($dst->safe_psql('pagila', q{SELECT count(*) FROM app.rental_by_category}),
	$src->safe_psql('pagila', q{SELECT count(*) FROM public.rental_by_category}),
	'the materialized view is refreshed under its new schema');

($rc, $out, $err) = run_pgcrane('verify', '--source', $source, '--target', $target,
	'--dir', $dir);
is($rc, 0, 'verify --dir is OK under the rules') or diag($out . $err);

($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
is($rc, 0, 'cleanup succeeds') or diag($err);

done_testing();
