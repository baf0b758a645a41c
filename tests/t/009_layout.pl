
# Copyright (c) pgcrane contributors

# The source tree's shape: folders are layers and includes point one way,
# commands -> stages -> core -> util.  cli/ may use every stage; clone/
# orchestrates the cdc and verify stages; cdc/ may use verify/ (the
# cutover reports the schema differences it did not carry through verify's
# comparison); verify/ uses only core and util; core/ only util; util/
# nothing of pgcrane.  No header
# includes itself through others.  Needs no server.

use strict;
use warnings;

use File::Basename qw(dirname);
use File::Find;
use Test::More;

my $src = dirname(__FILE__) . '/../../src';
my %may = (
	'main' => [qw(cli clone cdc verify core util)],
	'cli' => [qw(clone cdc verify core util)],
	'clone' => [qw(cdc verify core util)],
	'cdc' => [qw(verify core util)],
	'verify' => [qw(core util)],
	'core' => [qw(util)],
	'util' => [],);

my (%includes, @files);
find(sub { push @files, $File::Find::name if /\.[ch]$/ }, $src);
ok(@files > 50, 'the source tree is found (' . scalar(@files) . ' files)');

for my $f (sort @files)
{
	(my $rel = $f) =~ s{^\Q$src\E/}{};
	open my $fh, '<', $f or die "$f: $!";
	while (<$fh>)
	{
		push @{ $includes{$rel} }, $1 if /^#include "([^"]+)"/;
	}
	close $fh;
}

# Every include goes to the same folder or to one the folder may use.
my @upward;
for my $file (sort keys %includes)
{
	my $from = $file =~ m{^([^/]+)/} ? $1 : 'main';
	for my $inc (@{ $includes{$file} })
	{
		my $to = $inc =~ m{^([^/]+)/} ? $1 : 'main';
		next if $to eq $from;
		push @upward, "$file -> $inc"
		  unless grep { $_ eq $to } @{ $may{$from} || [] };
	}
}
is_deeply(\@upward, [], 'no include points up or sideways between layers')
  or diag(join("\n", @upward));

# No cycle among headers.
my (%state, @cycles);
sub visit
{
	my ($h, @path) = @_;
	$state{$h} = 1;
	for my $inc (@{ $includes{$h} || [] })
	{
		next unless exists $includes{$inc} || -f "$src/$inc";
		if (($state{$inc} // 0) == 1)
		{
			push @cycles, join(' -> ', @path, $h, $inc);
		}
		elsif (!$state{$inc})
		{
			visit($inc, @path, $h);
		}
	}
	$state{$h} = 2;
}
for my $h (grep { /\.h$/ } sort keys %includes)
{
	visit($h) unless $state{$h};
}
is_deeply(\@cycles, [], 'no include cycle among headers')
  or diag(join("\n", @cycles));

# The pure modules include nothing that does I/O or holds state.
for my $pure (qw(cdc/pgoutput.c cdc/position.c cdc/lag.c core/tasks.c core/blockrange.c core/errclass.c))
{
	my @bad = grep { m{^core/(conn|state|interrupt|progress|catalog)\.h$} || /libpq/ }
	  @{ $includes{$pure} || [] };
	is_deeply(\@bad, [], "$pure includes no connection or state module");
}

done_testing();
