
# Copyright (c) pgcrane contributors

# What following changes needs, checked before anything is copied
# ("pgcrane preflight --follow", which clone --follow runs too): logical
# WAL, a free slot and WAL sender, a role allowed to replicate, a replica
# identity on every table, no unlogged table on the source; a target role
# allowed to apply as a replica.  Each problem is one error line.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
# A server without logical decoding: what a default installation has.
my $plain = new_target_node('plain');

$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', <<'EOSQL');
CREATE TABLE with_key (id int PRIMARY KEY, v text);
CREATE TABLE no_key (a int, b text);
CREATE TABLE nothing (id int PRIMARY KEY);
ALTER TABLE nothing REPLICA IDENTITY NOTHING;
CREATE UNLOGGED TABLE scratch (id int);
CREATE TABLE full_ri (a int);
ALTER TABLE full_ri REPLICA IDENTITY FULL;
CREATE ROLE reader LOGIN;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;
EOSQL
$plain->safe_psql('postgres', 'CREATE DATABASE app');
# Roles are global objects: the one the source grants to exists on the
# target too, as the restore of its privileges needs.
$dst->safe_psql('postgres', 'CREATE ROLE plain LOGIN CREATEDB; CREATE ROLE reader');

sub preflight
{
	my ($source, $target) = @_;
	return run_pgcrane('preflight', '--follow', '--source' => $source,
		'--target' => $target);
}

# ---------- the server ----------

my ($rc, $out, $err) =
  preflight($plain->connstr('app'), $dst->connstr('app'));
is($rc, 1, 'preflight --follow fails on a server without logical WAL');
like($err, qr/^pgcrane: error: wal_level on the source server is "(minimal|replica)"; following changes needs "logical"$/m,
	'wal_level is named');
like($err, qr/^pgcrane: error: no WAL sender is free on the source server \(max_wal_senders\)$/m,
	'the missing WAL senders are named');

# ---------- the tables and the roles ----------

($rc, $out, $err) = preflight($src->connstr('app'), $dst->connstr('app'));
is($rc, 1, 'preflight --follow fails on tables that cannot be followed');
my @errors = error_lines($err);
is_deeply(
	[ sort grep { /table "public\./ } @errors ],
	[
		'pgcrane: error: table "public.no_key" has no replica identity: its updates and deletes cannot be followed',
		'pgcrane: error: table "public.nothing" has no replica identity: its updates and deletes cannot be followed',
	],
	'one error per table that cannot be followed, and only those');
like($err, qr/^pgcrane: table "public\.scratch" is unlogged: its changes are not streamed, it is copied again at the cutover$/m,
	'an unlogged table is named, not refused');
like($err, qr/hint: Use --replica-identity-full to have pgcrane set REPLICA IDENTITY FULL on them on the source \("pgcrane cleanup" gives back what they had\), or add a primary key to each\./,
	'the hint says how to give a table a replica identity');

(my $reader = $src->connstr('app')) =~ s/$/ user=reader/;
($rc, $out, $err) = preflight($reader, $dst->connstr('app'));
like($err, qr/^pgcrane: error: the source role may not replicate: it needs the REPLICATION attribute$/m,
	'a source role without REPLICATION is refused');

(my $plain_target = $dst->connstr('app')) =~ s/$/ user=plain/;
($rc, $out, $err) = preflight($src->connstr('app'), $plain_target);
like($err, qr/^pgcrane: error: the target role may not set session_replication_role, which applying changes as a replica needs$/m,
	'a target role that may not apply as a replica is refused');
like($err, qr/^pgcrane: hint: A superuser of the target can grant it with: GRANT SET ON PARAMETER session_replication_role TO "plain";$/m,
	'with the GRANT that allows it');

# ---------- fixed ----------

$src->safe_psql('app', <<'EOSQL');
ALTER TABLE no_key REPLICA IDENTITY FULL;
ALTER TABLE nothing REPLICA IDENTITY DEFAULT;
ALTER TABLE scratch SET LOGGED;
ALTER TABLE scratch ADD PRIMARY KEY (id);
EOSQL
($rc, $out, $err) = preflight($src->connstr('app'), $dst->connstr('app'));
is($rc, 0, 'preflight --follow passes once every table can be followed')
  or diag($err);
is($src->safe_psql('app', 'SELECT count(*) FROM pg_replication_slots'),
	'0', 'preflight leaves no replication slot');
is($src->safe_psql('app', 'SELECT count(*) FROM pg_publication'),
	'0', 'preflight leaves no publication');

done_testing();
