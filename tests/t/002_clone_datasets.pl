
# Copyright (c) pgcrane contributors

# Clone the three sample databases (pagila, chinook, netflix) into target
# databases that do not exist yet, and prove that each copy equals its
# source: schema, rows of every table, sequences, large objects.
#
# The target server's cluster is initialized as SQL_ASCII with the C
# locale while the source is UTF8 with C.UTF-8, so a target database that
# pgcrane creates must take the source database's encoding and locale,
# not the target server's defaults.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source',
	extra => [ '--encoding=UTF8', '--locale=C.UTF-8' ]);
my $dst = new_target_node('target',
	extra => [ '--encoding=SQL_ASCII', '--locale=C' ]);

my $tempdir = PostgreSQL::Test::Utils::tempdir();

foreach my $dataset (qw(pagila chinook netflix))
{
	load_dataset($src, $dataset, $dataset);

	ok(!database_exists($dst, $dataset),
		"$dataset: target database does not exist before the clone");

	clone_ok(
		"$dataset: clone succeeds",
		'--source' => $src->connstr($dataset),
		'--target' => $dst->connstr($dataset),
		'--jobs' => 2,
		'--dir' => "$tempdir/work-$dataset");

	ok(database_exists($dst, $dataset),
		"$dataset: clone created the target database");
	next unless database_exists($dst, $dataset);

	my $props = q{
		SELECT pg_encoding_to_char(encoding), datcollate, datctype
		FROM pg_database WHERE datname = current_database()};
	is(
		$dst->safe_psql($dataset, $props),
		$src->safe_psql($dataset, $props),
		"$dataset: target database has the source's encoding and locale");

	databases_equal($src, $dataset, $dst, $dataset);
}

# The clone leaves the source as it was: no replication slot or
# publication outlives it.
is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot left on the source');
foreach my $dataset (qw(pagila chinook netflix))
{
	is($src->safe_psql($dataset, 'SELECT count(*) FROM pg_publication'),
		'0', "$dataset: no publication left on the source");
}

done_testing();
