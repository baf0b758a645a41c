
# Copyright (c) pgcrane contributors

# Clone a database while it is being written to.  Parallel workers and
# the parts of a split table must all read one snapshot, so the copy is
# the source as it was at one instant.  A writer commits, in each
# transaction, one row into ledger_a, the same row into ledger_b and one
# increment to a counter in a table large enough to be split; at every
# instant, therefore:
#   count(ledger_a) = count(ledger_b) = sum(counters.n)
# and the ids of both ledgers are 1..count (transactions commit in order).
# A copy mixing two instants breaks one of these.
#
# Nothing here depends on timing: if the writes did not overlap the clone
# the invariants still hold; a note in the log tells how many rows were
# written during the clone.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes qw(usleep);

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE live');
$src->safe_psql('live', <<'EOSQL');
CREATE TABLE ledger_a (id bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE ledger_b (id bigint PRIMARY KEY, note text NOT NULL);
CREATE TABLE counters (id int PRIMARY KEY, n bigint NOT NULL, pad text NOT NULL);
INSERT INTO counters SELECT i, 0, repeat(md5(i::text), 3) FROM generate_series(1, 60000) AS i;
CREATE TABLE stop_writing (stop boolean);
CREATE TABLE filler AS
    SELECT i AS id, repeat(md5(i::text), 4) AS payload FROM generate_series(1, 100000) AS i;
EOSQL

# The writer: one transaction per row until told to stop, at most a
# minute and 100000 rows.
my $writer_sql = <<'EOSQL';
DO $$
DECLARE
    i bigint := 0;
    deadline timestamptz := clock_timestamp() + interval '60 seconds';
BEGIN
    LOOP
        i := i + 1;
        INSERT INTO ledger_a VALUES (i, 'row ' || i);
        INSERT INTO ledger_b VALUES (i, 'row ' || i);
        UPDATE counters SET n = n + 1 WHERE id = 1 + (i * 7919) % 60000;
        COMMIT;
        EXIT WHEN i >= 100000 OR clock_timestamp() > deadline
            OR EXISTS (SELECT 1 FROM stop_writing);
        PERFORM pg_sleep(0.002);
    END LOOP;
END
$$;
EOSQL
my $writer_file = "$tempdir/writer.sql";
open(my $fh, '>', $writer_file) or die "could not write $writer_file: $!";
print $fh $writer_sql;
close $fh;
my ($w_out, $w_err) = ('', '');
my $writer = IPC::Run::start(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', $src->connstr('live'), '-f', $writer_file
	],
	'<', '/dev/null', '>', \$w_out, '2>', \$w_err);

if (!$src->poll_query_until('live', 'SELECT count(*) >= 20 FROM ledger_a'))
{
	$writer->kill_kill;
	die "the writer did not start: $w_err";
}
my $rows_before = $src->safe_psql('live', 'SELECT count(*) FROM ledger_a');

clone_ok(
	'clone while the source is written to',
	'--source' => $src->connstr('live'),
	'--target' => $dst->connstr('live'),
	'--jobs' => 2,
	'--split-tables-larger-than' => '1MB',
	'--dir' => "$tempdir/work");

my $rows_after = $src->safe_psql('live', 'SELECT count(*) FROM ledger_a');
$src->safe_psql('live', 'INSERT INTO stop_writing VALUES (true)');
$writer->finish;
is($writer->result(0), 0, 'the writer ran without error')
  or diag("writer stderr:\n$w_err");
note("rows written during the clone: " . ($rows_after - $rows_before));

my ($a_count, $a_max, $b_count, $b_max, $n_sum) = split /\|/,
  $dst->safe_psql('live', <<'EOSQL');
SELECT (SELECT count(*) FROM ledger_a), (SELECT coalesce(max(id), 0) FROM ledger_a),
       (SELECT count(*) FROM ledger_b), (SELECT coalesce(max(id), 0) FROM ledger_b),
       (SELECT sum(n) FROM counters)
EOSQL

cmp_ok($a_count, '>=', $rows_before,
	'the copy holds at least the rows committed before the clone');
is($b_count, $a_count, 'ledger_a and ledger_b have as many rows');
is($a_max, $a_count, 'ledger_a holds ids 1..n, no gap');
is($b_max, $b_count, 'ledger_b holds ids 1..n, no gap');
is($n_sum, $a_count, 'the counters add up to the rows of the ledgers');
is(
	$dst->safe_psql('live',
		'SELECT count(*) FROM ledger_a a FULL JOIN ledger_b b USING (id)
		 WHERE a.id IS NULL OR b.id IS NULL'),
	'0',
	'ledger_a and ledger_b hold the same ids');

# The rows the copy has are the source's rows.
is(
	$dst->safe_psql('live',
		"SELECT count(*) FROM counters WHERE pad <> repeat(md5(id::text), 3)"),
	'0',
	'every counter row is intact');
is($dst->safe_psql('live', 'SELECT count(*) FROM filler'),
	'100000', 'the table nobody writes to is complete');

# Once the writes stopped, the schema is the same on both sides.
schema_dump_equal($src, 'live', $dst, 'live');

is($src->safe_psql('postgres', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'no replication slot left on the source');

# The clone is over: none of its sessions (nor a snapshot it held) stays
# on the source.  Sessions end when their process does, so allow 30 s.
my $sessions = '';
foreach my $try (1 .. 300)
{
	$sessions = $src->safe_psql('live',
		q{SELECT string_agg(application_name || ' (' || state || ')', ', ')
		  FROM pg_stat_activity
		  WHERE datname = 'live' AND backend_type = 'client backend'
		    AND pid <> pg_backend_pid()});
	last if $sessions eq '';
	usleep(100_000);
}
is($sessions, '', 'no session of the clone is left on the source');

done_testing();
