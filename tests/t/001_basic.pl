
# Copyright (c) pgcrane contributors

# The command line: help, version, and how bad usage fails.  No server
# is needed, except for the refused connection at the end.

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $pgcrane = pgcrane_path();

# Runs pgcrane and returns (exit code, stdout, stderr).
sub run
{
	my ($rc, $out, $err) = run_pgcrane(@_);
	return ($rc, $out, $err);
}

# A failure is reported by one error line; only "detail", "hint" and
# "Try ..." lines may follow it.
sub fails_with_one_error_ok
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($args, $expected_rc, $pattern, $name) = @_;
	my ($rc, $out, $err) = run(@$args);
	is($rc, $expected_rc, "$name: exit code $expected_rc");
	is($out, '', "$name: nothing on stdout");
	my @errors = error_lines($err);
	is(scalar(@errors), 1, "$name: one error line")
	  or diag("stderr was:\n$err");
	like($errors[0] // '', $pattern, "$name: error message");
	my @other = grep {
		!/^pgcrane: error: /
		  && !/^pgcrane: (detail|hint): /
		  && !/^Try "pgcrane( \w+)? --help" for more information\.$/
	} split /\n/, $err;
	is_deeply(\@other, [], "$name: no other output on stderr");
	return;
}

# Help and version.
{
	my ($rc, $out, $err) = run('--help');
	is($rc, 0, '--help exits 0');
	like($out, qr/^Usage:/m, '--help prints usage');
	like($out, qr/\bclone\b/, '--help lists clone');
	like($out, qr/\bpreflight\b/, '--help lists preflight');
	like($out, qr/\bverify\b/, '--help lists verify');
	is($err, '', '--help prints nothing on stderr');

	($rc, $out, $err) = run('--version');
	is($rc, 0, '--version exits 0');
	like($out, qr/^pgcrane \d+\.\d+(\.\d+)?\S*\n\z/, '--version prints the version');
	is($err, '', '--version prints nothing on stderr');

	($rc, $out, $err) = run('-V');
	is($rc, 0, '-V exits 0');
	like($out, qr/^pgcrane \d/, '-V prints the version');
}

# clone --help lists every option of the command.
{
	my ($rc, $out, $err) = run('clone', '--help');
	is($rc, 0, 'clone --help exits 0');
	like($out, qr/^Usage:/m, 'clone --help prints usage');
	like($out, qr/pgcrane clone/, 'clone --help names the command');
	foreach my $opt (
		qw(--source --target --jobs --index-jobs --dir --no-owner --no-acl
		--drop-if-exists --split-tables-larger-than --json --verify))
	{
		like($out, qr/\Q$opt\E\b/, "clone --help documents $opt");
	}
	is($err, '', 'clone --help prints nothing on stderr');
}

# preflight --help lists every option of the command.
{
	my ($rc, $out, $err) = run('preflight', '--help');
	is($rc, 0, 'preflight --help exits 0');
	like($out, qr/^Usage:/m, 'preflight --help prints usage');
	like($out, qr/pgcrane preflight/, 'preflight --help names the command');
	foreach my $opt (qw(--source --target --drop-if-exists --json))
	{
		like($out, qr/\Q$opt\E\b/, "preflight --help documents $opt");
	}
	is($err, '', 'preflight --help prints nothing on stderr');
}

# Bad usage: exit code 2 and one error line.
fails_with_one_error_ok([], 2, qr/^pgcrane: error: no command specified$/,
	'no command');
fails_with_one_error_ok([ 'frobnicate' ],
	2, qr/^pgcrane: error: unknown command "frobnicate"$/,
	'unknown command');

{
	# getopt_long reports an unknown option in its own words; what matters
	# is the exit code and that the option is named.
	my ($rc, $out, $err) = run('clone', '--not-a-valid-option');
	is($rc, 2, 'clone with an unknown option exits 2');
	is($out, '', 'clone with an unknown option prints nothing on stdout');
	like($err, qr/not-a-valid-option/, 'clone names the unknown option');

	($rc, $out, $err) = run('preflight', '--not-a-valid-option');
	is($rc, 2, 'preflight with an unknown option exits 2');
	like($err, qr/not-a-valid-option/, 'preflight names the unknown option');

	($rc, $out, $err) = run('clone', '--source', 'dbname=a', '--target',
		'dbname=b', 'extra-argument');
	is($rc, 2, 'clone with an extra argument exits 2');
	like($err, qr/extra-argument/, 'clone names the extra argument');
}

{
	local $ENV{PGCRANE_SOURCE};
	local $ENV{PGCRANE_TARGET};
	delete $ENV{PGCRANE_SOURCE};
	delete $ENV{PGCRANE_TARGET};
	fails_with_one_error_ok([ 'clone', '--target', 'dbname=x' ],
		2, qr/^pgcrane: error: no source database specified$/,
		'clone without a source');
	fails_with_one_error_ok([ 'clone', '--source', 'dbname=x' ],
		2, qr/^pgcrane: error: no target database specified$/,
		'clone without a target');
	fails_with_one_error_ok([ 'preflight', '--source', 'dbname=x' ],
		2, qr/^pgcrane: error: no target database specified$/,
		'preflight without a target');
}

fails_with_one_error_ok(
	[ 'clone', '--source', 'dbname=a', '--target', 'dbname=b', '--jobs', '0' ],
	2, qr/^pgcrane: error: invalid value "0" for option/,
	'clone --jobs 0');
fails_with_one_error_ok(
	[
		'clone', '--source', 'dbname=a', '--target', 'dbname=b',
		'--jobs', 'many'
	],
	2,
	qr/^pgcrane: error: invalid value "many" for option/,
	'clone --jobs many');
fails_with_one_error_ok(
	[
		'clone', '--source', 'dbname=a', '--target', 'dbname=b',
		'--split-tables-larger-than', 'huge'
	],
	2,
	qr/^pgcrane: error: .*huge/,
	'clone --split-tables-larger-than huge');

# No server where the connection strings point: a connection error for
# each side, each on one line, and exit code 2.  (Both commands check both
# servers before they stop, so both sides may be reported.)
{
	my $nowhere = PostgreSQL::Test::Utils::tempdir_short();
	foreach my $cmd ('clone', 'preflight')
	{
		my @args = (
			$cmd,
			'--source' => "host=$nowhere port=1 dbname=nothing",
			'--target' => "host=$nowhere port=2 dbname=nothing");
		push @args, '--dir' => "$nowhere/work" if $cmd eq 'clone';
		my ($rc, $out, $err) = run(@args);
		is($rc, 2, "$cmd with no servers: exit code 2");
		is($out, '', "$cmd with no servers: nothing on stdout");
		my @errors = error_lines($err);
		like(
			$errors[0] // '',
			qr/^pgcrane: error: could not connect to source server: /,
			"$cmd with no servers: the source is reported first");
		is(scalar(grep { !/^pgcrane: error: could not connect to (source|target) server: / }
			  @errors),
			0, "$cmd with no servers: only connection errors");
		my @other = grep { !/^pgcrane: (error|detail|hint): / } split /\n/, $err;
		is_deeply(\@other, [], "$cmd with no servers: no other output on stderr");
	}
}

done_testing();
