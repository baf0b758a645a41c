
# Copyright (c) pgcrane contributors

# Selection and transformation rules on pagila: include and exclude
# schemas and tables, table data left behind, a filter file, an exclusion
# that breaks a dependency (refused naming both objects, then accepted
# with --exclude-dependents), schema public renamed with its views,
# functions, sequences and foreign keys working on the target, a renamed
# table, a column left out (and refused when an index needs it), verify
# under each rule (OK, and a planted difference still found), and
# clone --plan in text and JSON, which changes nothing anywhere.

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

load_dataset($src, 'pagila', 'pagila');
$src->safe_psql(
	'pagila', q{
	CREATE SCHEMA arch;
	CREATE TABLE arch.old (id int PRIMARY KEY, note text);
	INSERT INTO arch.old VALUES (1, 'one'), (2, 'two');
	CREATE FUNCTION arch.answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
	CREATE FUNCTION public.count_films() RETURNS bigint LANGUAGE sql
	  AS 'SELECT count(*) FROM public.film';
	SELECT lo_from_bytea(0, 'a large object');
});
my $source = $src->connstr('pagila');
my $n = 0;

# A clone of the rules into a new target database; returns its name,
# directory and the run's output.
sub clone_rules
{
	my ($label, @rules) = @_;
	$n++;
	my ($db, $dir) = ("sel$n", "$tempdir/work$n");
	my ($rc, $out, $err) = run_pgcrane(
		'clone', '--source' => $source, '--target' => $dst->connstr($db),
		'--dir' => $dir, '--jobs' => 2, @rules);
	is($rc, 0, "$label: clone succeeds") or diag($err);
	return ($db, $dir, $err);
}

sub verify_dir
{
	my ($db, $dir, @args) = @_;
	return run_pgcrane('verify', '--source' => $source,
		'--target' => $dst->connstr($db), '--dir' => $dir, @args);
}

sub q_dst
{
	my ($db, $sql) = @_;
	return $dst->safe_psql($db, $sql);
}

# ---------- clone --plan: what would be done, and nothing done ----------

{
	my $dir = "$tempdir/plan-work";
	my @rules = ('--exclude-schema' => 'arch',
		'--exclude-table' => 'public.payment*', '--exclude-dependents',
		'--rename-schema' => 'public=app');
	my ($rc, $out, $err) = run_pgcrane('clone', '--plan', '--source' => $source,
		'--target' => $dst->connstr('never'), '--dir' => $dir, @rules);
	is($rc, 0, 'plan: exits 0') or diag($err);
	like($out, qr/copy\s+table\s+public\.film\s+.*kB\s+-> app\.film$/m,
		'plan: a table copied, with its size and its new name');
	like($out, qr/leave out\s+partitioned table\s+public\.payment\s/m,
		'plan: the partitioned table left out');
	like($out, qr/leave out\s+view\s+public\.sales_by_store\s+.*\(needs table "public\.payment(_p\w+)?"\)/m,
		'plan: a view left out with what it needs');
	like($out, qr/leave out\s+schema\s+arch$/m, 'plan: the schema left out');
	like($out, qr/rename\s+schema\s+public -> app/, 'plan: the rename');
	like($out, qr/^plan: copy \d+ tables \(.*\), 0 without their rows; leave out \d+ relations/m,
		'plan: the last line');
	ok(!-e $dir, 'plan: no work directory');
	ok(!database_exists($dst, 'never'), 'plan: no target database');
	is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
		'0', 'plan: no replication slot');
	is($src->safe_psql('postgres',
			"SELECT count(*) FROM pg_stat_activity WHERE datname = 'pagila'"),
		'0', 'plan: no session left on the source (no snapshot holder)');

	($rc, $out, $err) = run_pgcrane('plan', '--source' => $source, '--json', @rules);
	is($rc, 0, 'plan --json: exits 0') or diag($err);
	my $plan = eval { decode_json($out) };
	ok($plan, 'plan --json: one JSON object') or diag($out);
	my %rel = map { $_->{name} => $_ } @{ $plan->{relations} };
	is($rel{'public.film'}{action}, 'copy', 'plan --json: film copied');
	is($rel{'public.film'}{target}, 'app.film', 'plan --json: under its new name');
	ok($rel{'public.film'}{bytes} > 0, 'plan --json: with its size');
	is($rel{'public.payment_p2022_01'}{action}, 'leave out', 'plan --json: a partition left out');
	is_deeply($plan->{schemas_left_out}, ['arch'], 'plan --json: schemas left out');
	is($plan->{large_objects}{copied}, JSON::PP::false, 'plan --json: large objects left out');
	ok(!database_exists($dst, 'never'), 'plan --json: still no target database');

	($rc, $out, $err) = run_pgcrane('plan', '--source' => $source,
		'--rename-schema' => 'arch=public');
	is($rc, 1, 'plan: a rename onto an existing schema is a problem');
	like($err, qr/schema "public" of --rename-schema arch=public already exists on the target/,
		'plan: the rename problem named');
}

# ---------- a dependency the selection breaks ----------

{
	my ($rc, $out, $err) = run_pgcrane('clone', '--source' => $source,
		'--target' => $dst->connstr('refused'), '--dir' => "$tempdir/refused",
		'--exclude-table' => 'public.customer');
	is($rc, 1, 'dependency: clone refused by its preflight');
	like($err, qr/error: view "public\.customer_list" needs table "public\.customer", which the selection leaves out/,
		'dependency: the view and the table named');
	like($err, qr/error: table constraint "rental_customer_id_fkey on public\.rental" needs table "public\.customer"/,
		'dependency: the foreign key and the table named');
	like($err, qr/hint: .*--exclude-dependents/, 'dependency: the hint');
	ok(!database_exists($dst, 'refused'), 'dependency: nothing created');

	($rc, $out, $err) = run_pgcrane('preflight', '--source' => $source,
		'--target' => $dst->connstr('refused'), '--exclude-table' => 'public.customer');
	is($rc, 1, 'dependency: preflight finds it too');
	like($err, qr/function "public\.rewards_report\(integer,numeric\)" needs table "public\.customer"/,
		'dependency: a function of the row type named');

	my ($db, $dir) = clone_rules('exclude-dependents',
		'--exclude-table' => 'public.customer', '--exclude-dependents');
	is(q_dst($db, "SELECT to_regclass('public.customer') IS NULL
		AND to_regclass('public.customer_list') IS NULL"), 't',
		'exclude-dependents: the table and its view left out');
	is(q_dst($db, "SELECT count(*) FROM pg_constraint WHERE conname = 'rental_customer_id_fkey'"),
		'0', 'exclude-dependents: the foreign key into it dropped');
	is(q_dst($db, 'SELECT count(*) FROM public.rental'), '16044',
		'exclude-dependents: the referencing table copied whole');
	is(q_dst($db, "SELECT count(*) FROM pg_namespace WHERE nspname = 'arch'"), '1',
		'exclude-dependents: other schemas kept');
	is(q_dst($db, 'SELECT count(*) FROM pg_largeobject_metadata'), '0',
		'exclude-dependents: no large object with a partial selection');
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 0, 'exclude-dependents: verify --dir is OK') or diag($out . $err);
	like($out, qr/^verify: OK \(\d+ tables, \d+ rows; 1 excluded by the selection\)$/m,
		'exclude-dependents: verify says what it left out');
	q_dst($db, "UPDATE public.rental SET staff_id = 3 - staff_id WHERE rental_id = 42");
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 1, 'exclude-dependents: a planted difference is found');
	like($out, qr/changed: row of "public\.rental" with key \(rental_id\)=\(42\)/,
		'exclude-dependents: the changed row named');
}

# ---------- include and exclude, table data, a filter file ----------

{
	my ($db, $dir) = clone_rules('include-schema', '--include-schema' => 'arch');
	is(q_dst($db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), '0',
		'include-schema: nothing of public');
	is(q_dst($db, 'SELECT count(*) FROM arch.old'), '2', 'include-schema: its table copied');
	is(q_dst($db, 'SELECT arch.answer()'), '42', 'include-schema: its function');
	my ($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 0, 'include-schema: verify --dir is OK') or diag($out . $err);

	($rc, $out, $err) = run_pgcrane('plan', '--source' => $source,
		'--exclude-table-data' => 'public.customer');
	is($rc, 1, 'exclude-table-data: a foreign key into the table is a problem');
	like($err, qr/error: table constraint "rental_customer_id_fkey on public\.rental" references table "public\.customer", whose rows the selection leaves out/,
		'exclude-table-data: the key and the table named');

	my $filter = "$tempdir/rules.txt";
	open(my $fh, '>', $filter) or die $!;
	print $fh "# films and who plays in them; the archive stays behind\n"
	  . "include table public.film*\n"
	  . "include table public.actor\n"
	  . "include table public.language\n"
	  . "include table public.category   # film_category needs it\n"
	  . "exclude schema arch\n"
	  . "exclude table_data public.film_actor\n";
	close($fh);
	($db, $dir) = clone_rules('filter', '--filter' => $filter, '--exclude-dependents',
		'--include-large-objects');
	is(q_dst($db, "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables
		WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"),
		'actor,category,film,film_actor,film_category,language',
		'filter: exactly the selected tables');
	is(q_dst($db, 'SELECT count(*) FROM public.film_actor'), '0',
		'filter: the table whose data is excluded is empty');
	is(q_dst($db, "SELECT count(*) FROM pg_indexes WHERE tablename = 'film_actor'"), '2',
		'filter: it has its indexes');
	is(q_dst($db, 'SELECT count(*) FROM public.film'), '1000', 'filter: rows copied');
	is(q_dst($db, 'SELECT count(*) FROM public.film_list'), '0',
		'filter: a view over the selected tables works (and sees no actor rows)');
	is(q_dst($db, 'SELECT count(*) FROM pg_largeobject_metadata'), '1',
		'filter: --include-large-objects copies them');
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 0, 'filter: verify --dir is OK') or diag($out . $err);
	like($out, qr/excluded by the selection/, 'filter: verify says what it left out');
	is(q_dst($db, "SELECT nextval('public.film_film_id_seq')"), '1001',
		'filter: the owned sequence came along with its value');
	($rc, $out, $err) = run_pgcrane('verify', '--source' => $source,
		'--target' => $dst->connstr($db), '--filter' => $filter, '--exclude-dependents',
		'--include-large-objects');
	is($rc, 1, 'filter: verify with the rules given sees the sequence moved by nextval');
	like($out, qr/differs: sequence "public\.film_film_id_seq"/,
		'filter: and names it');
}

# ---------- rename public, rename a table, leave a column out ----------

{
	my ($rc, $out, $err) = run_pgcrane('preflight', '--source' => $source,
		'--target' => $dst->connstr('never'), '--exclude-column' => 'public.film.title');
	is($rc, 1, 'exclude-column: refused when an index needs the column');
	like($err, qr/column "public\.film\.title" cannot be left out: index "public\.idx_title" needs it/,
		'exclude-column: the index named');

	my @rules = ('--rename-schema' => 'public=app',
		'--rename-table' => 'public.actor=performer',
		'--exclude-column' => 'public.customer.email');
	my ($db, $dir, $log) = clone_rules('rename', @rules);
	like($log, qr/warning: the body of function public\.count_films\(\) names schema "public"/,
		'rename: the function whose body names the old schema is listed');
	is(q_dst($db, "SELECT string_agg(nspname, ',' ORDER BY nspname) FROM pg_namespace
		WHERE nspname IN ('public', 'app', 'arch')"), 'app,arch',
		'rename: public is now app');
	is(q_dst($db, 'SELECT count(*) FROM app.film_list'), '997', 'rename: a view selects');
	is(q_dst($db, "INSERT INTO app.performer (first_name, last_name)
		VALUES ('NEW', 'ACTOR') RETURNING actor_id"), '201',
		'rename: a renamed table inserts through its sequence default');
	my ($ok, $o, $e) = $dst->psql($db,
		'INSERT INTO app.film_actor (actor_id, film_id) VALUES (9999, 1)');
	like($e, qr/violates foreign key constraint "film_actor_actor_id_fkey"/,
		'rename: a foreign key still checks');
	is(q_dst($db, 'SET search_path = app; SELECT app.inventory_in_stock(1) IS NOT NULL'), 't',
		'rename: a function runs in the new schema');
	is(q_dst($db, "SELECT count(*) FROM information_schema.columns
		WHERE table_schema = 'app' AND table_name = 'customer' AND column_name = 'email'"),
		'0', 'exclude-column: the column is not in the definition');
	is(q_dst($db, 'SELECT count(*) FROM app.customer'), '599',
		'exclude-column: the rows are copied');
	is(q_dst($db, 'SELECT count(*) FROM pg_largeobject_metadata'), '1',
		'rename: large objects copied with the whole database selected');
	q_dst($db, 'DELETE FROM app.performer WHERE actor_id = 201');
	q_dst($db, "SELECT setval('app.actor_actor_id_seq', 200)");
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 0, 'rename: verify --dir is OK under the mapping') or diag($out . $err);
	($rc, $out, $err) = run_pgcrane('verify', '--source' => $source,
		'--target' => $dst->connstr($db), @rules);
	is($rc, 0, 'rename: verify with the rules given is OK') or diag($out . $err);
	q_dst($db, "UPDATE app.performer SET last_name = 'CHANGED' WHERE actor_id = 1");
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 1, 'rename: a planted difference is found');
	like($out, qr/changed: row of "public\.actor" with key \(actor_id\)=\(1\)/,
		'rename: named as on the source');
	($rc, $out, $err) = run_pgcrane('verify', '--source' => $source,
		'--target' => $dst->connstr($db));
	is($rc, 1, 'rename: verify without the rules sees another shape');
}

# ---------- renames to names that need quotes ----------

# The target's definitions quote the new names ("Shop App"."Items"):
# verify maps them back as it maps plain ones.
{
	$src->safe_psql('pagila', q{
		CREATE SCHEMA shop;
		CREATE TABLE shop.items (id serial PRIMARY KEY, name text);
		CREATE TABLE shop.lines (id int PRIMARY KEY, item int REFERENCES shop.items);
		CREATE VIEW shop.item_lines AS
		  SELECT i.name, l.id FROM shop.items i JOIN shop.lines l ON l.item = i.id;
		CREATE VIEW shop.all_items AS SELECT items.id, items.name FROM shop.items;
		INSERT INTO shop.items (name) VALUES ('a'), ('b');
		INSERT INTO shop.lines VALUES (1, 1), (2, 2);
	});
	my @rules = ('--include-schema' => 'shop', '--rename-schema' => 'shop="Shop App"',
		'--rename-table' => 'shop.items="Items"');
	my ($db, $dir) = clone_rules('quoted', @rules);
	is(q_dst($db, 'SELECT count(*) FROM "Shop App".item_lines'), '2',
		'quoted: the view over the renamed table selects');
	like(q_dst($db, q{SELECT pg_get_viewdef('"Shop App".all_items')}), qr/"Shop App"\."Items"/,
		'quoted: the target\'s definition quotes the new names');
	my ($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 0, 'quoted: verify --dir is OK under the mapping') or diag($out . $err);
	q_dst($db, q{UPDATE "Shop App"."Items" SET name = 'changed' WHERE id = 1});
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 1, 'quoted: a planted difference is found');
	like($out, qr/changed: row of "shop\.items" with key \(id\)=\(1\)/,
		'quoted: named as on the source');
	$src->safe_psql('pagila', 'DROP SCHEMA shop CASCADE');
}

# ---------- resume: the rules recorded ----------

# An event trigger on the (empty) target makes the rename fail once: the
# resume takes the rules from the work directory.
{
	my $db = 'resumed';
	my $dir = "$tempdir/resume";
	$dst->safe_psql('postgres', "CREATE DATABASE $db");
	$dst->safe_psql($db, q{
		CREATE FUNCTION information_schema.no_rename() RETURNS event_trigger
		  LANGUAGE plpgsql AS $$BEGIN
		    IF current_query() ~* 'RENAME' THEN RAISE EXCEPTION 'renames are blocked'; END IF;
		  END$$;
		CREATE EVENT TRIGGER no_rename ON ddl_command_start
		  WHEN TAG IN ('ALTER SCHEMA') EXECUTE FUNCTION information_schema.no_rename()});
	my ($rc, $out, $err) = run_pgcrane('clone', '--source' => $source,
		'--target' => $dst->connstr($db), '--dir' => $dir, '--jobs' => 2,
		'--rename-schema' => 'public=app', '--exclude-table' => 'public.payment*',
		'--exclude-dependents');
	is($rc, 2, 'resume: the clone fails in the rename');
	like($err, qr/clone failed in phase "rename"/, 'resume: in the rename phase');
	like(state_kv($dir, 'clone.selection'), qr/^exclude table public\.payment\*$/m,
		'resume: the rules are recorded in the work directory');
	($rc, $out, $err) = run_pgcrane('clone', '--resume', '--dir' => $dir,
		'--exclude-table' => 'public.film');
	is($rc, 2, 'resume: rules given with --resume are refused');
	$dst->safe_psql($db, 'DROP EVENT TRIGGER no_rename');
	($rc, $out, $err) = run_pgcrane('clone', '--resume', '--dir' => $dir);
	is($rc, 0, 'resume: the resume finishes') or diag($err);
	like($err, qr/data: done in an earlier run, skipped/, 'resume: the rows are not copied again');
	is($dst->safe_psql($db, "SELECT to_regclass('app.payment') IS NULL
		AND to_regclass('app.film') IS NOT NULL"), 't',
		'resume: renamed, without what the rules leave out');
	($rc, $out, $err) = verify_dir($db, $dir);
	is($rc, 0, 'resume: verify --dir is OK') or diag($out . $err);
}

# ---------- options refused ----------

{
	my ($rc, $out, $err) = run_pgcrane('clone', '--source' => $source,
		'--target' => $dst->connstr('never'), '--filter' => "$tempdir/missing.txt");
	is($rc, 2, 'filter: a missing file is an error');
	like($err, qr/could not open filter file/, 'filter: the file named');
	($rc, $out, $err) = run_pgcrane('plan', '--source' => $source,
		'--include-table' => 'a.b.c');
	is($rc, 2, 'pattern: too many dotted names refused');
}

is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot left on the source');

done_testing();
