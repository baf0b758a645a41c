
# Copyright (c) pgcrane contributors

# The order of the data phase, read from the timeline that -v prints
# (one debug line per task: worker, task, start and end):
#  - a table copied whole whose index builds take a while is copied
#    before the parts of a larger split table are taken, so that its
#    builds overlap those parts instead of running alone at the end;
#  - a table whose copy is short and its builds long (a GIN index) is
#    copied first of all;
#  - the split table's parts get smaller toward its end (the last round
#    of shares is cut into halves, quarters and eighths) and start in
#    their order;
#  - every task appears once in the timeline, on a worker, with an end
#    not before its start; copies only on copy workers (1 and 2 with
#    --jobs 2), and the copy is equal.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql('shop', <<'EOSQL');
-- TOASTed values, few rows: split in parts, little work after its copy.
CREATE TABLE docs (id int PRIMARY KEY, body text);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
INSERT INTO docs SELECT i, repeat(md5(i::text), 200)
    FROM generate_series(1, 12000) AS i;
-- Many narrow rows: copied whole, its primary key built after it.
CREATE TABLE accounts (id int PRIMARY KEY, branch int, balance int, filler text);
INSERT INTO accounts SELECT i, i % 97, i % 10007, md5(i::text)
    FROM generate_series(1, 300000) AS i;
-- A short copy and a long build: a GIN index over jsonb.
CREATE TABLE events (id int PRIMARY KEY, payload jsonb);
CREATE INDEX events_payload_gin ON events USING gin (payload);
INSERT INTO events SELECT i, jsonb_build_object('k', i % 50, 'tags', jsonb_build_array(i % 7, i % 11))
    FROM generate_series(1, 20000) AS i;
ANALYZE;
EOSQL

my $docs_bytes = $src->safe_psql('shop', "SELECT pg_total_relation_size('docs')");
my $accounts_bytes =
  $src->safe_psql('shop', "SELECT pg_total_relation_size('accounts')");
cmp_ok($docs_bytes, '>', 2 * $accounts_bytes,
	'the split table is the larger one');

# Split only docs: a size between the two tables, in whole MB.
my $split_mb = int(($docs_bytes / 4) / 1048576) + 1;
$split_mb = int($accounts_bytes / 1048576) + 1 if $split_mb * 1048576 < $accounts_bytes;
my ($rc, $out, $err) = clone_ok(
	'clone with its timeline',
	'--source' => $src->connstr('shop'),
	'--target' => $dst->connstr('shop'),
	'--jobs' => 2,
	'--index-jobs' => 2,
	'--split-tables-larger-than' => "${split_mb}MB",
	'--dir' => "$tempdir/work",
	'-v');
databases_equal($src, 'shop', $dst, 'shop');

my @lines = grep { /debug: worker \d+: / } split /\n/, $err;
my (%start, %seen);
my $bad = 0;
foreach my $line (@lines)
{
	my ($worker, $task, $from, $to) =
	  $line =~ /debug: worker (\d+): (.+) from ([\d.]+) s to ([\d.]+) s$/
	  or next;
	$seen{$task}++;
	$start{$task} = $from;
	$bad++ if $to < $from;
	$bad++ if $task =~ / part \d+\/\d+$/ && $worker > 2;
}
is($bad, 0, 'every task ends after it starts, and copies run on copy workers');
is(scalar(grep { $seen{$_} != 1 } keys %seen), 0, 'every task is in the timeline once');
ok(exists $seen{'index "public.events_payload_gin"'}, 'index builds are in the timeline');

my @docs_parts = sort { $start{$a} <=> $start{$b} }
  grep { /^table "public.docs" part / } keys %start;
cmp_ok(scalar(@docs_parts), '>=', 2, 'docs is copied in parts')
  or diag(join("\n", @lines));
my $accounts = $start{'table "public.accounts" part 1/1'};
ok(defined $accounts && $accounts <= $start{ $docs_parts[-1] },
	'the table copied whole starts before the last part of the split table')
  or diag(join("\n", @lines));
# The split table's last round is cut smaller: its parts, as the state
# file records them, never grow toward its end, the last ones are at most
# a quarter of the first, and the workers take them in order.
# (The last part is open-ended: left out.)
my @sizes = split /\n/, state_query("$tempdir/work",
	"SELECT p.end_block - p.first_block FROM parts p "
	  . "JOIN tables t ON t.oid = p.table_oid WHERE t.name = 'public.docs' "
	  . "AND p.end_block <> -1 ORDER BY p.partno");
my $growing = grep { $sizes[$_] > $sizes[ $_ - 1 ] } 1 .. $#sizes;
is($growing, 0, 'no part of the split table is larger than the one before it')
  or diag("@sizes");
cmp_ok(scalar(@sizes), '>=', 4, 'the split table has a tapered last round')
  or diag("@sizes");
cmp_ok($sizes[-1] * 4, '<=', $sizes[0], 'its last parts are a quarter of its first or less')
  or diag("@sizes");
my ($nparts) = $docs_parts[0] =~ /\/(\d+)$/;
my $out_of_order = grep {
	$start{"table \"public.docs\" part $_/$nparts"} >
	  $start{ "table \"public.docs\" part " . ($_ + 1) . "/$nparts" }
} 1 .. $nparts - 1;
is($out_of_order, 0, 'the parts start in their order') or diag(join("\n", @lines));
my $events = $start{'table "public.events" part 1/1'};
my @copies = grep { / part \d+\/\d+$/ && !/^table "public.pgbench/ } keys %start;
my @sorted = sort { $start{$a} <=> $start{$b} } @copies;
ok(defined $events && $events <= $start{ $sorted[1] },
	'the table with the long build is among the first two copies')
  or diag(join("\n", @lines));

done_testing();
