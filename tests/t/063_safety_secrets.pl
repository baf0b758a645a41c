
# Copyright (c) pgcrane contributors

# Secrets.  Both servers ask role "alice" for a password (scram-sha-256).
#  (a) With the password in both connection strings, no secret shows while
#      the clone runs in /proc/PID/environ or cmdline of pgcrane, pg_dump,
#      pg_restore or the snapshot holder (sampled every few milliseconds;
#      pg_dump and pg_restore may have it as PGPASSWORD, and are gone
#      when the clone is), nor in stdout, stderr or the work directory;
#      the connection options
#      keepalives_idle and tcp_user_timeout of the source string reach
#      pg_dump.
#  (b) With the password in PGPASSWORD, a clone interrupted while it waits
#      for a lock leaves its snapshot holder running: the holder's
#      environment and command line hold no password.
#  (c) A malformed URI holding the password fails with one error line that
#      quotes nothing of it.
#  (d) sslpassword cannot reach pg_dump safely: preflight says so.
# Each refused command leaves both servers exactly as they were.

use strict;
use warnings;

use File::Find;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;
use Time::HiRes qw(time usleep);

my $src = new_source_node('source');
my $dst = new_target_node('target');
my $tempdir = PostgreSQL::Test::Utils::tempdir();
my $secret = 'Pw-7f3a9-Secret-Phrase';

foreach my $node ($src, $dst)
{
	$node->safe_psql('postgres', <<"EOSQL");
SET password_encryption = 'scram-sha-256';
CREATE ROLE alice LOGIN SUPERUSER REPLICATION PASSWORD '$secret';
EOSQL
	my $hba = $node->data_dir . '/pg_hba.conf';
	my $old = slurp_file($hba);
	open(my $fh, '>', $hba) or die "could not write $hba: $!";
	print $fh "local all alice scram-sha-256\n";
	print $fh "local replication alice scram-sha-256\n";
	print $fh $old;
	close $fh;
	$node->reload;
}

# A schema of a few hundred tables, so that pg_dump and pg_restore run
# long enough to be seen, and one table of some size for the copy.
$src->safe_psql('postgres', 'CREATE DATABASE app');
$src->safe_psql('app', <<'EOSQL');
DO $$
BEGIN
	FOR i IN 1..300 LOOP
		EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, v text)', i);
		EXECUTE format('INSERT INTO t%s VALUES (1, %L)', i, 'v' || i);
	END LOOP;
END
$$;
CREATE TABLE big (id int PRIMARY KEY, v text);
INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 200000) AS g;
CREATE TABLE locked_table (id int PRIMARY KEY);
INSERT INTO locked_table VALUES (1);
EOSQL

my $src_conn = sprintf(
	"host=%s port=%s dbname=app user=alice password=%s keepalives_idle=7 tcp_user_timeout=9000",
	$src->host, $src->port, $secret);

# A URI for the target database $db with the password in it.
sub dst_uri
{
	my ($db) = @_;
	return sprintf("postgresql://alice:%s@/%s?host=%s&port=%s",
		$secret, $db, $dst->host, $dst->port);
}

# Process group of a process, from /proc/PID/stat.
sub pgrp_of
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/stat") or return -1;
	my $stat = <$fh> // '';
	close $fh;
	return $stat =~ /^\d+ \(.*\) \S+ \d+ (\d+)/ ? $1 : -1;
}

sub slurp_proc
{
	my ($path) = @_;
	open(my $fh, '<:raw', $path) or return undef;
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s // '';
}

# Look at every process of the run (its process group) and every
# snapshot holder of this test; fill %$seen (program => cmdline, the
# first with --dbname for pg_dump and pg_restore) and push to @$leaks
# what shows the secret.  pgcrane's own command line holds the password
# it was given until it has read its options and wiped them: it counts
# only once pgcrane has run for half a second.
sub sample
{
	my ($run, $seen, $leaks) = @_;
	my $run_pid = $run->{pid};
	opendir(my $dh, '/proc') or return;
	foreach my $pid (grep { /^\d+$/ } readdir $dh)
	{
		my $cmdline = slurp_proc("/proc/$pid/cmdline") // next;
		my @argv = split /\0/, $cmdline;
		next unless @argv;
		my $holder = ($argv[1] // '') eq 'snapshot-holder'
		  && index($cmdline, $tempdir) >= 0;
		next unless $holder || pgrp_of($pid) == $run_pid;
		my $environ = slurp_proc("/proc/$pid/environ") // next;
		my $prog = $holder ? 'snapshot-holder' : ($argv[0] =~ s{.*/}{}r);
		my $cmd = $cmdline =~ s/\0/ /gr;
		$seen->{$prog} = $cmd
		  if !defined $seen->{$prog}
		  || ($cmd =~ /--dbname/ && $seen->{$prog} !~ /--dbname/);
		push @$leaks, "$prog ($pid) cmdline"
		  if index($cmdline, $secret) >= 0
		  && ($prog ne 'pgcrane' || time() - $run->{started} > 0.5);
		# pg_dump and pg_restore live for one step: they may have it, as
		# PGPASSWORD and nowhere else in their environment.
		$environ = join("\0", grep { $_ ne "PGPASSWORD=$secret" } split /\0/, $environ)
		  if $prog eq 'pg_dump' || $prog eq 'pg_restore';
		push @$leaks, "$prog ($pid) environ" if index($environ, $secret) >= 0;
		@$leaks = do { my %u; grep { !$u{$_}++ } @$leaks };
	}
	closedir $dh;
	return;
}

# Files of the work directory that hold the secret.
sub leaking_files
{
	my ($dir) = @_;
	my @files;
	find(sub { push @files, $File::Find::name if -f $_ }, $dir) if -d $dir;
	return grep { index(slurp_bytes($_), $secret) >= 0 } @files;
}

#
# (a) A clone with passwords in both strings, watched while it runs.
#
{
	my $dir = "$tempdir/work-a";
	my (%seen, @leaks);
	local $ENV{PGPASSWORD};
	delete $ENV{PGPASSWORD};
	my $run = start_pgcrane(
		'clone',
		'--source' => $src_conn,
		'--target' => dst_uri('copy_a'),
		'--jobs' => 2,
		'--dir' => $dir);
	$run->{started} = time();
	my ($rc, $out, $err);
	my $samples = 0;
	my $deadline = time() + 120;
	while (time() < $deadline)
	{
		sample($run, \%seen, \@leaks);
		$samples++;
		($rc) = finish_pgcrane($run, 0);
		last if defined $rc;
		usleep(2_000);
	}
	($rc, $out, $err) = finish_pgcrane($run, 10);
	note("sampled $samples times, saw: " . join(', ', sort keys %seen));
	my %after;
	sample($run, \%after, []);
	is(join(',', grep { $_ ne 'snapshot-holder' } sort keys %after), '',
		'(a) no child of the clone outlives it');
	is($rc, 0, '(a) clone with passwords in the strings succeeds')
	  or diag("stderr was:\n$err");
	ok($seen{$_}, "(a) $_ was seen while running")
	  foreach ('pgcrane', 'pg_dump', 'pg_restore', 'snapshot-holder');
	is_deeply(\@leaks, [], '(a) no process shows the password in environ or cmdline')
	  or diag("leaks: @leaks");
	unlike($out, qr/\Q$secret\E/, '(a) the password is not on stdout');
	unlike($err, qr/\Q$secret\E/, '(a) the password is not on stderr');
	is_deeply([ leaking_files($dir) ], [],
		'(a) the password is in no file of the work directory');
	like($seen{pg_dump} // '', qr/keepalives_idle='7'/,
		'(a) pg_dump gets keepalives_idle from the connection string');
	like($seen{pg_dump} // '', qr/tcp_user_timeout='9000'/,
		'(a) pg_dump gets tcp_user_timeout from the connection string');
	like($seen{pg_restore} // '', qr/keepalives='1'/,
		'(a) pg_restore gets TCP keepalives');
	databases_equal($src, 'app', $dst, 'copy_a');
}

#
# (b) PGPASSWORD, and a holder that outlives an interrupted clone.
#
{
	my $dir = "$tempdir/work-b";
	local $ENV{PGPASSWORD} = $secret;
	my $locker = $src->background_psql('app');
	$locker->query_safe(
		'BEGIN; LOCK TABLE locked_table IN ACCESS EXCLUSIVE MODE;');
	my $run = start_pgcrane(
		'clone',
		'--source' => sprintf("host=%s port=%s dbname=app user=alice", $src->host, $src->port),
		'--target' => sprintf("host=%s port=%s dbname=copy_b user=alice", $dst->host, $dst->port),
		'--dir' => $dir);
	my $waiting = 0;
	my $deadline = time() + 60;
	while (time() < $deadline)
	{
		$waiting = $src->safe_psql('app',
			"SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
		last if $waiting > 0;
		last if defined((finish_pgcrane($run, 0))[0]);
		usleep(100_000);
	}
	ok($waiting > 0, '(b) the clone waits for the locked table');
	kill 'INT', -$run->{pid};
	my ($rc, $out, $err) = finish_pgcrane($run, 30);
	is($rc, 130, '(b) the interrupted clone exits 130');
	$locker->query_safe('COMMIT');
	$locker->quit;

	my $holder = state_kv($dir, 'snapshot.holder_pid');
	ok(process_alive($holder) && is_snapshot_holder($holder),
		'(b) the snapshot holder outlives the clone');
	my $environ = slurp_proc("/proc/$holder/environ") // '';
	my $cmdline = slurp_proc("/proc/$holder/cmdline") // '';
	ok(length($environ) > 0, '(b) the holder\'s environment can be read');
	unlike($environ, qr/\Q$secret\E/, '(b) the holder\'s environment holds no password');
	unlike($environ, qr/(^|\0)(PGPASSWORD|PGCRANE_SOURCE)=/,
		'(b) nor PGPASSWORD or PGCRANE_SOURCE');
	unlike($cmdline, qr/\Q$secret\E/, '(b) the holder\'s command line holds no password');
	is_deeply([ leaking_files($dir) ], [],
		'(b) the password is in no file of the work directory');
	unlike($out . $err, qr/\Q$secret\E/, '(b) nor in the output');
	stop_snapshot_holder($dir);
}

#
# (c) A malformed URI holding the password.
#
foreach my $cmd ('preflight', 'clone')
{
	my @before = (server_fingerprint($src), server_fingerprint($dst));
	my $bad = sprintf("postgresql://alice:%s%%zz@/app?host=%s&port=%s",
		$secret, $src->host, $src->port);
	my $dir = "$tempdir/work-c-$cmd";
	my ($rc, $out, $err) = run_pgcrane(
		$cmd,
		'--source' => $bad,
		'--target' => dst_uri('copy_c'),
		$cmd eq 'clone' ? ('--dir' => $dir) : ());
	is($rc, 2, "(c) $cmd with a malformed URI: exit code 2");
	my @errors = error_lines($err);
	is(scalar(@errors), 1, "(c) $cmd: one error line") or diag("stderr was:\n$err");
	like($errors[0] // '',
		qr/^pgcrane: error: .*invalid connection string: invalid percent-encoded token: "\.\.\."$/,
		"(c) $cmd: names the problem");
	unlike($out . $err, qr/\Q$secret\E|zz/, "(c) $cmd: quotes nothing of the string");
	is_deeply([ leaking_files($dir) ], [], "(c) $cmd: no file holds the password");
	is(server_fingerprint($src), $before[0], "(c) $cmd: source server unchanged");
	is(server_fingerprint($dst), $before[1], "(c) $cmd: target server unchanged");
}

#
# (d) sslpassword has no environment variable: refused by preflight.
#
{
	my @before = (server_fingerprint($src), server_fingerprint($dst));
	my ($rc, $out, $err) = run_pgcrane(
		'preflight',
		'--source' => "$src_conn sslpassword=KeyPhrase-1234",
		'--target' => dst_uri('copy_d'));
	is($rc, 1, '(d) preflight with sslpassword: exit code 1');
	my @errors = error_lines($err);
	is_deeply(\@errors,
		[ 'pgcrane: error: connection option "sslpassword" cannot be passed to pg_dump safely' ],
		'(d) one error line naming the option') or diag("stderr was:\n$err");
	like($err, qr/^pgcrane: hint: .*without a pass phrase/m, '(d) with a hint');
	unlike($out . $err, qr/KeyPhrase|\Q$secret\E/, '(d) no secret in the output');
	is(server_fingerprint($src), $before[0], '(d) source server unchanged');
	is(server_fingerprint($dst), $before[1], '(d) target server unchanged');
}

done_testing();
