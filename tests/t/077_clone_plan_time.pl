
# Copyright (c) pgcrane contributors

# The clone's predicted time: clone --plan prints the total and each
# phase (text and JSON) from the cost model and touches nothing (no
# target database, no slot, no work directory, no session left); the
# prediction follows the options it models (--toast-compression=lz4, a
# shorter data phase on TOASTed rows; --jobs 1, a longer one); after a
# clone the summary sets each phase's time against its prediction, in
# text and in --json, with the same prediction as clone --plan.

use strict;
use warnings;

use JSON::PP;
use List::Util qw(sum);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE shop');
$src->safe_psql(
	'shop', q{
	CREATE TABLE docs (id bigint PRIMARY KEY, body text NOT NULL);
	ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;
	INSERT INTO docs
	  SELECT i, (SELECT string_agg(md5(i::text || '-' || j), '') FROM generate_series(1, 120) AS j)
	  FROM generate_series(1, 3000) AS i;
	CREATE TABLE events (id bigint PRIMARY KEY, doc_id bigint NOT NULL REFERENCES docs,
	  kind text NOT NULL, payload jsonb NOT NULL);
	INSERT INTO events
	  SELECT i, 1 + i % 3000, 'k' || (i % 7), jsonb_build_object('n', i % 100, 's', 'v' || (i % 13))
	  FROM generate_series(1, 30000) AS i;
	CREATE INDEX events_kind_idx ON events (kind);
	CREATE INDEX events_lower_idx ON events (lower(kind));
	CREATE INDEX events_payload_gin ON events USING gin (payload);
	CREATE SEQUENCE ticket_seq;
	SELECT nextval('ticket_seq');
	ANALYZE;
});
my $source = $src->connstr('shop');
my @phases = qw(preflight target snapshot schema data sequences post-data database);

# ---------- clone --plan: the predicted time, and nothing done ----------
my $dir = "$tempdir/plan-work";
my $src_before = server_fingerprint($src);
my $dst_before = server_fingerprint($dst);
my ($rc, $out, $err) = run_pgcrane('clone', '--plan', '--source' => $source,
	'--target' => $dst->connstr('never'), '--dir' => $dir, '--jobs' => 2);
is($rc, 0, 'plan: exits 0') or diag($err);
like($out, qr/^\s+predict\s+total\s+\d+\.\d\d s$/m, 'plan: the predicted total');
for my $p (@phases)
{
	like($out, qr/^\s+predict\s+phase\s+\Q$p\E\s+\d+\.\d\d s$/m, "plan: phase $p predicted");
}
like($out, qr/^\s+predict\s+data\s+copies done after\s+\d+\.\d\d s$/m,
	'plan: when the copies end');
like($out, qr/^predicted time: \d+\.\d s with --jobs 2 --index-jobs 2$/m,
	'plan: the predicted time with the jobs it assumes');
like($out, qr/^plan: copy 2 tables/m, 'plan: still says what is copied');
ok(!-e $dir, 'plan: no work directory');
ok(!database_exists($dst, 'never'), 'plan: no target database');
is(server_fingerprint($src), $src_before,
	'plan: the source unchanged (no slot, no publication, no session left)');
is(server_fingerprint($dst), $dst_before, 'plan: the target server unchanged');

# The JSON: total and phases, the phases adding up to the total.
sub plan_json
{
	my (@args) = @_;
	my ($rc, $out, $err) = run_pgcrane('plan', '--source' => $source, '--json', @args);
	is($rc, 0, "plan --json @args: exits 0") or diag($err);
	my $plan = eval { decode_json($out) };
	ok($plan && $plan->{prediction}, "plan --json @args: a prediction") or diag($out);
	return $plan ? $plan->{prediction} : {};
}

my $pred = plan_json('--jobs' => 2);
is_deeply([ map { $_->{name} } @{ $pred->{phases} } ], \@phases,
	'plan --json: the clone\'s phases, in order');
ok($pred->{seconds} > 0, 'plan --json: a total above zero');
my $sum = sum(map { $_->{seconds} } @{ $pred->{phases} });
ok(abs($sum - $pred->{seconds}) < 0.01, 'plan --json: the phases add up to the total')
  or diag("sum $sum, total $pred->{seconds}");
my ($data) = grep { $_->{name} eq 'data' } @{ $pred->{phases} };
is($data->{seconds}, $pred->{data}{seconds}, 'plan --json: the data phase in detail');
# 2 copies, 2 "rows in", 2 ANALYZE, 2 primary keys + 3 indexes, 1 key, 1 "all analyzed".
is($pred->{data}{tasks}, 13, 'plan --json: every task of the data phase simulated');
ok($pred->{data}{copy_seconds} > 0 && $pred->{data}{copy_seconds} < $data->{seconds},
	'plan --json: the copies end before the phase');
is($pred->{jobs}, 2, 'plan --json: the jobs assumed');
is($pred->{index_jobs}, 2, 'plan --json: --index-jobs defaults to --jobs');

# The model follows the options it knows about.
my $lz4 = plan_json('--jobs' => 2, '--toast-compression' => 'lz4');
ok($lz4->{data}{seconds} < $pred->{data}{seconds},
	'plan --json: TOASTed rows written with lz4 predict a shorter data phase')
  or diag("lz4 $lz4->{data}{seconds}, pglz $pred->{data}{seconds}");
my $one = plan_json('--jobs' => 1);
ok($one->{data}{seconds} > $pred->{data}{seconds},
	'plan --json: one job predicts a longer data phase than two')
  or diag("1 job $one->{data}{seconds}, 2 jobs $pred->{data}{seconds}");
is($one->{index_jobs}, 1, 'plan --json: one index job with --jobs 1');

# ---------- after a clone: predicted against actual per phase ----------
($rc, $out, $err) = run_pgcrane('clone', '--source' => $source,
	'--target' => $dst->connstr('copy1'), '--dir' => "$tempdir/w1", '--jobs' => 2);
is($rc, 0, 'clone: succeeds') or diag($err);
for my $p (@phases)
{
	like($err, qr/^\s+phase\s+\Q$p\E\s+\d+\.\d\d s\s+predicted\s+\d+\.\d\d s$/m,
		"summary: phase $p, with its prediction");
}
like($err, qr/^\s+idle\s+workers waiting for work\s+\d+\.\d\d s\s+predicted\s+\d+\.\d\d s$/m,
	'summary: idle workers, with the prediction');
like($err, qr/^\s+predicted \d+\.\d\d s in all, took \d+\.\d\d s: \d+\.\d\d times the prediction$/m,
	'summary: the whole run against its prediction');

($rc, $out, $err) = run_pgcrane('clone', '--source' => $source,
	'--target' => $dst->connstr('copy2'), '--dir' => "$tempdir/w2", '--jobs' => 2, '--json');
is($rc, 0, 'clone --json: succeeds') or diag($err);
my $sumry = eval { decode_json($out) };
ok($sumry, 'clone --json: one JSON object') or diag($out);
my %ph = map { $_->{name} => $_ } @{ $sumry->{phases} };
for my $p (@phases)
{
	ok(defined $ph{$p}{predicted_seconds} && defined $ph{$p}{seconds},
		"clone --json: phase $p has its time and its prediction");
}
ok(abs($ph{data}{predicted_seconds} - $pred->{data}{seconds}) < 0.002,
	'clone --json: the data phase predicted as clone --plan predicts it')
  or diag("clone $ph{data}{predicted_seconds}, plan $pred->{data}{seconds}");
ok(abs($sumry->{predicted_seconds} - $pred->{seconds}) < 0.01,
	'clone --json: the same total as clone --plan');
ok(defined $sumry->{predicted_idle_seconds}, 'clone --json: the idle time predicted');

done_testing();
