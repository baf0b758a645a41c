
# Copyright (c) pgcrane contributors

# Usage errors, for every command: an unknown long or short option, an
# option without its value, a bad value, a stray argument.  Each is one
# "pgcrane: error:" line in PostgreSQL's style, then the way to the help
# as a hint, nothing on stdout, exit code 2, and no server contacted (the
# connection strings given point at nothing).

use strict;
use warnings;

use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $tempdir = PostgreSQL::Test::Utils::tempdir();
my @conn = ('--source' => 'host=/nonexistent dbname=a',
	'--target' => 'host=/nonexistent dbname=b');

sub usage_error
{
	my ($cmd, $re, @args) = @_;
	my $name = "pgcrane $cmd " . join(' ', @args);
	my ($rc, $out, $err) = run_pgcrane($cmd, @args);
	is($rc, 2, "$name: exit code 2");
	is($out, '', "$name: nothing on stdout");
	my @errors = error_lines($err);
	is(scalar(@errors), 1, "$name: one error line") or diag($err);
	like($errors[0] // '', $re, "$name: the error names the problem");
	like($err, qr/^pgcrane: hint: Try "pgcrane \Q$cmd\E --help" for more information\.$/m,
		"$name: the hint leads to the help");
	unlike($err, qr/^(?!pgcrane: )/m, "$name: every line is pgcrane's");
	return;
}

my %needs = (
	clone => [@conn, '--dir' => "$tempdir/w"],
	preflight => [@conn],
	verify => [@conn],
	follow => ['--dir' => "$tempdir/w"],
	status => ['--dir' => "$tempdir/w"],
	cutover => ['--dir' => "$tempdir/w"],
	cleanup => ['--dir' => "$tempdir/w"],);

foreach my $cmd (sort keys %needs)
{
	my @base = @{ $needs{$cmd} };
	usage_error($cmd, qr/^pgcrane: error: unrecognized option "--bogus"$/,
		@base, '--bogus');
	usage_error($cmd, qr/^pgcrane: error: unrecognized option "--bogus"$/,
		@base, '--bogus=1');
	usage_error($cmd, qr/^pgcrane: error: invalid option "-Z"$/, @base, '-Z');
	usage_error($cmd, qr/^pgcrane: error: option "--dir" requires a value$/,
		@base, '--dir')
	  unless $cmd eq 'preflight';
	usage_error($cmd, qr/^pgcrane: error: too many command-line arguments \(first is "stray"\)$/,
		@base, 'stray');
}
usage_error('clone', qr/^pgcrane: error: option "-j" requires a value$/, @conn, '-j');
usage_error('clone', qr/^pgcrane: error: invalid value "0" for option --jobs$/,
	@conn, '--jobs', '0');
usage_error('clone', qr/^pgcrane: error: invalid value "many" for option --jobs$/,
	@conn, '--jobs', 'many');
usage_error('verify', qr/^pgcrane: error: option "--source" requires a value$/,
	'--source');

my ($rc, $out, $err) = run_pgcrane('frobnicate');
is($rc, 2, 'an unknown command: exit code 2');
is_deeply([ error_lines($err) ], ['pgcrane: error: unknown command "frobnicate"'],
	'an unknown command: one error line');
like($err, qr/^pgcrane: hint: Try "pgcrane --help" for more information\.$/m,
	'an unknown command: the hint leads to the help');

done_testing();
