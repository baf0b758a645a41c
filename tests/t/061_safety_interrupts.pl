
# Copyright (c) pgcrane contributors

# Connect timeouts and interrupts while connecting.  A fake server that
# accepts TCP connections and never answers stands for a host behind a
# firewall that swallows packets or a server that hangs:
#  - preflight and clone give up after the connect timeout
#    (PGCONNECT_TIMEOUT, else 10 s) with one error line;
#  - SIGINT (to the process group, as Ctrl-C) or SIGTERM (to pgcrane
#    alone) while connecting ends pgcrane within a second with exit code
#    130, whether the command runs the signal thread (clone) or not
#    (preflight);
# and in every case both real servers are exactly as before and no
# snapshot holder is left.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app',
	'CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t SELECT generate_series(1, 100)');

# The fake server: listens, accepts when asked, never sends a byte.
my $fake = IO::Socket::INET->new(
	LocalAddr => '127.0.0.1',
	LocalPort => 0,
	Proto => 'tcp',
	Listen => 64,
	ReuseAddr => 1) or die "could not listen: $!";
my $fake_port = $fake->sockport;
my $fake_conn = "host=127.0.0.1 port=$fake_port dbname=app user=nobody";
my @held;    # accepted sockets, kept open and silent

# Wait until pgcrane's connection to the fake server arrives; true if so.
sub accept_fake
{
	my ($seconds) = @_;
	my $sel = IO::Select->new($fake);
	return 0 unless $sel->can_read($seconds);
	my $c = $fake->accept or return 0;
	push @held, $c;
	return 1;
}

# The snapshot holders of this test's work directories (other tests may
# run on the same machine at the same time).
sub my_holders
{
	my @mine;
	foreach my $pid (holder_processes())
	{
		open(my $fh, '<', "/proc/$pid/cmdline") or next;
		local $/;
		my $cmd = <$fh> // '';
		close $fh;
		push @mine, $pid if index($cmd, $tempdir) >= 0;
	}
	return @mine;
}

sub fingerprints
{
	return (server_fingerprint($src), server_fingerprint($dst));
}

# Assert both servers are as in @before and no holder runs.
sub unchanged
{
	my ($name, @before) = @_;
	my @after = fingerprints();
	is($after[0], $before[0], "$name: source server unchanged");
	is($after[1], $before[1], "$name: target server unchanged");
	is(scalar(my_holders()), 0, "$name: no snapshot holder left");
}

#
# Connect timeout: PGCONNECT_TIMEOUT=2, then the default of 10 s.
#
my @cases = (
	[ 'preflight, silent source', 'preflight', 'source', $fake_conn, $dst->connstr('app') ],
	[ 'clone, silent source', 'clone', 'source', $fake_conn, $dst->connstr('app') ],
	[ 'clone, silent target', 'clone', 'target', $src->connstr('app'),
		"host=127.0.0.1 port=$fake_port dbname=app" ],
);
foreach my $case (@cases)
{
	my ($name, $cmd, $side, $source, $target) = @$case;
	my @before = fingerprints();
	local $ENV{PGCONNECT_TIMEOUT} = '2';
	my $start = time();
	my ($rc, $out, $err) = run_pgcrane(
		$cmd,
		'--source' => $source,
		'--target' => $target,
		$cmd eq 'clone' ? ('--dir' => "$tempdir/work-$side-timeout") : ());
	my $took = time() - $start;
	note(sprintf("%s: gave up after %.2f s", $name, $took));
	is($rc, 2, "$name: exit code 2");
	ok($took >= 1.8 && $took < 8, "$name: gives up after the 2 s timeout")
	  or diag("took $took s");
	my @errors = error_lines($err);
	is(scalar(@errors), 1, "$name: one error line") or diag("stderr was:\n$err");
	like($errors[0] // '',
		qr/^pgcrane: error: could not connect to $side server: connection to server at "127\.0\.0\.1", port $fake_port failed: timeout expired$/,
		"$name: says the $side server timed out");
	unchanged($name, @before);
}

{
	my $name = 'default timeout';
	my @before = fingerprints();
	local $ENV{PGCONNECT_TIMEOUT};
	delete $ENV{PGCONNECT_TIMEOUT};
	my $start = time();
	my ($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => $fake_conn,
		'--target' => $dst->connstr('app'));
	my $took = time() - $start;
	note(sprintf("%s: gave up after %.2f s", $name, $took));
	is($rc, 2, "$name: exit code 2");
	ok($took >= 9.5 && $took < 16, "$name: gives up after 10 s")
	  or diag("took $took s");
	is(scalar(error_lines($err)), 1, "$name: one error line")
	  or diag("stderr was:\n$err");
	unchanged($name, @before);

	# connect_timeout in the string wins over the default.
	$start = time();
	($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => "$fake_conn connect_timeout=3",
		'--target' => $dst->connstr('app'));
	$took = time() - $start;
	is($rc, 2, 'connect_timeout=3: exit code 2');
	ok($took >= 2.8 && $took < 8, 'connect_timeout=3: gives up after 3 s')
	  or diag("took $took s");
}

#
# Interrupts while connecting: the timeout is long, the signal ends it.
#
foreach my $cmd ('preflight', 'clone')
{
	foreach my $signal ('INT', 'TERM')
	{
		my $name = "$cmd, SIG$signal while connecting";
		my @before = fingerprints();
		local $ENV{PGCONNECT_TIMEOUT} = '60';
		my $run = start_pgcrane(
			$cmd,
			'--source' => $fake_conn,
			'--target' => $dst->connstr('app'),
			$cmd eq 'clone' ? ('--dir' => "$tempdir/work-$cmd-$signal") : ());
		ok(accept_fake(30), "$name: pgcrane connects to the silent server");
		usleep(300_000);
		my ($still) = finish_pgcrane($run, 0);
		ok(!defined $still, "$name: pgcrane still waits for the server");

		my $sent = time();
		if ($signal eq 'INT')
		{
			kill 'INT', -$run->{pid};
		}
		else
		{
			kill 'TERM', $run->{pid};
		}
		my ($rc, $out, $err) = finish_pgcrane($run, 10);
		my $took = time() - $sent;
		note(sprintf("%s: exited %.3f s after the signal", $name, $took));
		if (!defined $rc)
		{
			kill 'KILL', -$run->{pid};
			finish_pgcrane($run, 10);
		}
		is($rc, 130, "$name: exit code 130");
		ok($took < 1.0, "$name: exits within a second") or diag("took $took s");
		like($err, qr/^pgcrane: (interrupt|termination signal) received, stopping$/m,
			"$name: says it stops");
		# clone's preflight reports the target it then did not connect to.
		my @errors = error_lines($err);
		my @others = grep { !/connection attempt interrupted$/ } @errors;
		ok(@errors <= 1 && !@others,
			"$name: no error line but the interrupted connection")
		  or diag("stderr was:\n$err");
		unchanged($name, @before);
		close($_) foreach @held;
		@held = ();
	}
}

done_testing();
