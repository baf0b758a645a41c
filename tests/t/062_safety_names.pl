
# Copyright (c) pgcrane contributors

# Every database name works in every command and child process: names
# with spaces, quotes, backslashes, "=", names that look like a
# connection string or a URI, non-ASCII names.  Each is cloned (with
# --verify) as a source name into another odd name on the target, given
# once as a key/value string and once as a URI, then checked by
# "pgcrane verify" and by comparing rows, schema and sequences.  pg_dump
# and pg_restore must not take such a name for a connection string.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

my @names = (
	'two words',
	q{it's "quoted"},
	'back\\slash\\',
	'a=b',
	'dbname=postgres host=nowhere',
	'postgresql://evil@nowhere/postgres',
	"h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93",
);

# A key/value connection string for $dbname, quoted by libpq's rules.
sub kv_conn
{
	my ($node, $dbname) = @_;
	(my $q = $dbname) =~ s/([\\'])/\\$1/g;
	return sprintf("host=%s port=%s dbname='%s'", $node->host, $node->port, $q);
}

sub uri_escape
{
	my ($s) = @_;
	$s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord($1))/ge;
	return $s;
}

# The same as a URI, the name percent-encoded.
sub uri_conn
{
	my ($node, $dbname) = @_;
	return sprintf("postgresql:///%s?host=%s&port=%s",
		uri_escape($dbname), uri_escape($node->host),
		$node->port);
}

my $i = 0;
foreach my $name (@names)
{
	my $ident = PgCraneTest::quote_ident($name);
	$src->safe_psql('postgres', "CREATE DATABASE $ident");
	$src->safe_psql($name, <<"EOSQL");
CREATE TABLE items (id int PRIMARY KEY, label text NOT NULL);
INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500 + $i) AS g;
CREATE INDEX items_label ON items (label);
CREATE TABLE refs (id int PRIMARY KEY, item int REFERENCES items);
INSERT INTO refs SELECT g, g FROM generate_series(1, 50) AS g;
CREATE SEQUENCE tickets;
SELECT setval('tickets', 40 + $i);
EOSQL
	$i++;
}

for my $k (0 .. $#names)
{
	my $from = $names[$k];
	my $to = $names[ ($k + 1) % @names ];
	my $uri = $k % 2 == 1;
	my $name = sprintf("clone %d (%s)", $k, $uri ? 'URI' : 'key/value');
	my $source = $uri ? uri_conn($src, $from) : kv_conn($src, $from);
	my $target = $uri ? uri_conn($dst, $to) : kv_conn($dst, $to);
	my $dir = "$tempdir/work-$k";

	my ($rc, $out, $err) = run_pgcrane(
		'clone',
		'--source' => $source,
		'--target' => $target,
		'--verify',
		'--dir' => $dir);
	is($rc, 0, "$name: clone --verify succeeds") or diag("stderr was:\n$err");
	is(scalar(error_lines($err)), 0, "$name: no error line");
	databases_equal($src, $from, $dst, $to);
	stop_snapshot_holder($dir);

	($rc, $out, $err) = run_pgcrane(
		'verify',
		'--source' => $source,
		'--target' => $target,
		'--dir' => "$dir-verify");
	is($rc, 0, "$name: verify finds them equal") or diag("stderr was:\n$err");
	is(scalar(error_lines($err)), 0, "$name: verify logs no error line");
}

# No database was created by a name being parsed as a connection string.
my @target_dbs = split /\n/,
  $dst->safe_psql('postgres',
	"SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1') ORDER BY 1");
is_deeply([ sort @target_dbs ], [ sort @names ],
	'the target holds exactly the odd names, nothing else');

done_testing();
