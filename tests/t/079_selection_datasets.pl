
# Copyright (c) pgcrane contributors

# Selection and transformation rules on chinook (every name quoted and
# mixed case, foreign keys between most tables) and netflix (one wide
# text table): quoted patterns, an include that breaks a foreign key
# (refused naming both, then --exclude-dependents), renames to quoted
# names that verify maps back in keys and views, a column left out, a
# table's data left behind, and clone --follow under the rules while the
# source is written, to cutover and verify --dir.

use strict;
use warnings;

use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $timeout = $PostgreSQL::Test::Utils::timeout_default;

load_dataset($src, 'chinook', 'chinook');
load_dataset($src, 'netflix', 'netflix');
$src->safe_psql('chinook', q{
	CREATE VIEW public."AlbumTitles" AS
	  SELECT a."Title", ar."Name" FROM public."Album" a JOIN public."Artist" ar USING ("ArtistId");
});
my $chinook = $src->connstr('chinook');
my $n = 0;

sub clone_rules
{
	my ($label, $source, @rules) = @_;
	$n++;
	my ($db, $dir) = ("sel$n", "$tempdir/work$n");
	my ($rc, $out, $err) = run_pgcrane(
		'clone', '--source' => $source, '--target' => $dst->connstr($db),
		'--dir' => $dir, '--jobs' => 2, @rules);
	is($rc, 0, "$label: clone succeeds") or diag($err);
	return ($db, $dir);
}

sub verify_dir
{
	my ($source, $db, $dir) = @_;
	return run_pgcrane('verify', '--source' => $source,
		'--target' => $dst->connstr($db), '--dir' => $dir);
}

# ---------- quoted patterns, a broken foreign key ----------

{
	my ($rc, $out, $err) = run_pgcrane('plan', '--source' => $chinook,
		'--include-table' => 'public."Invoice"*', '--json');
	is($rc, 1, 'chinook: an include that breaks foreign keys is refused');
	like($err, qr/^pgcrane: error: table constraint "FK_InvoiceLineTrackId on public\.InvoiceLine" needs table "public\.Track", which the selection leaves out$/m,
		'chinook: the key and the table it needs named');

	my ($db, $dir) = clone_rules('chinook include', $chinook,
		'--include-table' => 'public."Invoice"*', '--exclude-dependents');
	is($dst->safe_psql($db, q{SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables
		WHERE schemaname = 'public'}), 'Invoice,InvoiceLine',
		'chinook: a quoted pattern selects by case');
	is($dst->safe_psql($db, q{SELECT count(*) FROM "InvoiceLine"}), '2240',
		'chinook: the rows are copied');
	is($dst->safe_psql($db, q{SELECT count(*) FROM pg_constraint WHERE contype = 'f'}), '1',
		'chinook: only the key between the selected tables is kept');
	($rc, $out, $err) = verify_dir($chinook, $db, $dir);
	is($rc, 0, 'chinook include: verify --dir is OK') or diag($out . $err);
	like($out, qr/excluded by the selection/, 'chinook include: verify says what it left out');
}

# ---------- renames to quoted names, a column left out ----------

my @rename = ('--rename-schema' => 'public="Music Store"',
	'--rename-table' => 'public."Album"="Records"',
	'--exclude-column' => 'public."Customer"."Fax"',
	'--exclude-table' => 'public."Playlist"*');
{
	my ($rc, $out, $err) = run_pgcrane('plan', '--source' => $chinook, @rename, '--json');
	is($rc, 0, 'chinook plan: the renames are possible') or diag($err);
	my $plan = eval { decode_json($out) };
	ok($plan, 'chinook plan: JSON') or diag($out);

	my ($db, $dir) = clone_rules('chinook rename', $chinook, @rename);
	is($dst->safe_psql($db, q{SELECT count(*) FROM "Music Store"."Records"}), '347',
		'chinook rename: the renamed table in the renamed schema');
	like($dst->safe_psql($db, q{SELECT pg_get_constraintdef(oid) FROM pg_constraint
		WHERE conname = 'FK_TrackAlbumId'}), qr/REFERENCES "Music Store"\."Records"/,
		'chinook rename: the foreign key follows, quoted');
	is($dst->safe_psql($db, q{SELECT count(*) FROM "Music Store"."AlbumTitles"}), '347',
		'chinook rename: the view over it selects');
	is($dst->safe_psql($db, q{SELECT count(*) FROM information_schema.columns
		WHERE table_name = 'Customer' AND column_name = 'Fax'}), '0',
		'chinook rename: the column is left out');
	($rc, $out, $err) = verify_dir($chinook, $db, $dir);
	is($rc, 0, 'chinook rename: verify --dir maps the quoted names back') or diag($out . $err);
	$dst->safe_psql($db, q{UPDATE "Music Store"."Records" SET "Title" = 'x' WHERE "AlbumId" = 5});
	($rc, $out, $err) = verify_dir($chinook, $db, $dir);
	is($rc, 1, 'chinook rename: a planted difference is found');
	like($out, qr/changed: row of "public\.Album" with key \(AlbumId\)=\(5\)/,
		'chinook rename: named as on the source');
}

# ---------- netflix: a table's data left behind ----------

{
	my ($db, $dir) = clone_rules('netflix', $src->connstr('netflix'),
		'--exclude-table-data' => 'public.netflix_shows');
	is($dst->safe_psql($db, 'SELECT count(*) FROM netflix_shows'), '0',
		'netflix: the table is there without its rows');
	is($dst->safe_psql($db, q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'netflix_shows'::regclass}),
		$src->safe_psql('netflix', q{SELECT count(*) FROM pg_constraint WHERE conrelid = 'netflix_shows'::regclass}),
		'netflix: with its constraints');
	my ($rc, $out, $err) = verify_dir($src->connstr('netflix'), $db, $dir);
	is($rc, 0, 'netflix: verify --dir does not compare the rows left behind') or diag($out . $err);
}

# ---------- clone --follow on chinook under the rules, with writes ----------

{
	my $script = "$tempdir/writes.sql";
	open(my $fh, '>', $script) or die "$script: $!";
	print $fh <<'EOS';
\set a random(1, 347)
\set c random(1, 59)
\set t random(1, 3503)
UPDATE public."Album" SET "Title" = left("Title", 150) || '+' WHERE "AlbumId" = :a;
UPDATE public."Customer" SET "Fax" = 'f' || :c, "City" = 'city ' || :t WHERE "CustomerId" = :c;
UPDATE public."Track" SET "Milliseconds" = "Milliseconds" + 1 WHERE "TrackId" = :t;
INSERT INTO public."PlaylistTrack" ("PlaylistId", "TrackId") VALUES (1, :t) ON CONFLICT DO NOTHING;
EOS
	close $fh;
	my $dir = "$tempdir/follow";
	my $bench = start_background($tempdir, 'bench', 'pgbench', '-n', '-f', $script,
		'-c', '2', '-T', '8', $chinook);
	my $clone = start_background($tempdir, 'clone', pgcrane_path(), 'clone', '--follow',
		'--source', $chinook, '--target', $dst->connstr('followed'), '--dir', $dir,
		'--jobs', '2', @rename);
	ok(wait_state_kv($dir, 'follow.phase', qr/^(catching-up|streaming)$/, 4 * $timeout),
		'chinook follow: clone --follow follows under the rules')
	  or diag(slurp_if_exists("$tempdir/clone.err"));
	is(wait_background($bench, 4 * $timeout), 0, 'chinook follow: the writes succeed')
	  or diag(slurp_if_exists("$tempdir/bench.err"));
	my ($rc, $out, $err) = run_pgcrane('cutover', '--dir', $dir, '--timeout', 4 * $timeout);
	is($rc, 0, 'chinook follow: cutover succeeds') or diag($err);
	is(wait_background($clone, $timeout), 0, 'chinook follow: the follower ends')
	  or diag(slurp_if_exists("$tempdir/clone.err"));
	is($dst->safe_psql('followed', q{SELECT sum("Milliseconds") FROM "Music Store"."Track"}),
		$src->safe_psql('chinook', q{SELECT sum("Milliseconds") FROM public."Track"}),
		'chinook follow: the updates landed in the renamed schema');
	is($dst->safe_psql('followed', q{SELECT string_agg("Title", ',' ORDER BY "AlbumId") FROM "Music Store"."Records"}),
		$src->safe_psql('chinook', q{SELECT string_agg("Title", ',' ORDER BY "AlbumId") FROM public."Album"}),
		'chinook follow: and in the renamed table');
	is($src->safe_psql('chinook', q{SELECT count(*) FROM pg_publication_tables WHERE tablename LIKE 'Playlist%'}),
		'0', 'chinook follow: the tables left out are not published');
	($rc, $out, $err) = verify_dir($chinook, 'followed', $dir);
	is($rc, 0, 'chinook follow: verify --dir is OK') or diag($out . $err);
	($rc, $out, $err) = run_pgcrane('cleanup', '--dir', $dir);
	is($rc, 0, 'chinook follow: cleanup succeeds') or diag($err);
}

done_testing();
