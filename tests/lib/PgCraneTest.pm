
# Copyright (c) pgcrane contributors

=pod

=head1 NAME

PgCraneTest - helpers for the pgcrane TAP tests

=head1 SYNOPSIS

  use PostgreSQL::Test::Cluster;
  use PostgreSQL::Test::Utils;
  use PgCraneTest;
  use Test::More;

  my $src = new_source_node('source');
  my $dst = new_target_node('target');
  load_dataset($src, 'pagila', 'pagila');

  my ($rc, $out, $err) = run_pgcrane('clone',
      '--source' => $src->connstr('pagila'),
      '--target' => $dst->connstr('pagila'),
      '--dir'    => PostgreSQL::Test::Utils::tempdir() . '/work');
  is($rc, 0, 'clone succeeds');
  databases_equal($src, 'pagila', $dst, 'pagila');
  done_testing();

=head1 DESCRIPTION

Every test starts real PostgreSQL servers with PostgreSQL::Test::Cluster,
runs the pgcrane binary named by $ENV{PGCRANE} and proves, with the
comparison functions below, that the target holds the same database as the
source: the same schema (pg_dump --schema-only), the same rows in every
table (count and an order-independent checksum), the same sequence states
and the same large objects.

The environment comes from "make tap-check": PGCRANE (the binary),
PGCRANE_DATASETS (the directory holding pagila.sql, chinook.sql and
netflix.sql), PATH with the PostgreSQL binaries first and PG_REGRESS.

=cut

package PgCraneTest;

use strict;
use warnings;

use Carp;
use Exporter 'import';
use File::Basename qw(dirname);
use File::Copy qw(copy);
use File::Path qw(make_path);
use IPC::Run;
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes ();

our @EXPORT = qw(
  pgcrane_path
  new_source_node
  new_target_node
  load_dataset
  run_pgcrane
  start_pgcrane
  finish_pgcrane
  launch_pgcrane
  reap_pgcrane
  wait_pgcrane
  start_background
  wait_background
  slurp_if_exists
  state_query
  state_kv
  wait_state_kv
  poll_until
  follow_origin_lsn
  process_alive
  is_snapshot_holder
  wait_process_gone
  stop_snapshot_holder
  clone_ok
  clone_resume_ok
  clone_result_ok
  error_lines
  schema_dump_equal
  tables_equal
  sequences_equal
  large_objects_equal
  databases_equal
  database_exists
  server_fingerprint
  holder_processes
  install_without_extension
  slurp_bytes
);

# Settings for every node: room for pgcrane's parallel connections and a
# cache large enough that a few tens of MB do not thrash.
my $common_conf = <<'EOC';
max_connections = 50
shared_buffers = 32MB
max_wal_size = 1GB
max_worker_processes = 16
EOC

# Session settings that make the text form of every value independent of
# the server's defaults, so checksums computed on two servers compare.
my $stable_output = join(
	"\n",
	"SET datestyle = 'ISO, YMD';",
	"SET intervalstyle = 'postgres';",
	"SET timezone = 'UTC';",
	"SET extra_float_digits = 3;",
	"SET bytea_output = 'hex';",
	"SET search_path = pg_catalog;",
	'');

=pod

=head1 FUNCTIONS

=over

=item pgcrane_path()

The pgcrane binary under test ($ENV{PGCRANE}); bails out when unset.

=cut

sub pgcrane_path
{
	my $bin = $ENV{PGCRANE};
	BAIL_OUT('PGCRANE is not set; run the tests with "make tap-check"')
	  unless defined $bin && $bin ne '';
	BAIL_OUT("PGCRANE \"$bin\" is not an executable file") unless -x $bin;
	return $bin;
}

=pod

=item new_source_node($name, %params)

Creates and starts a node fit to be a migration source: wal_level=logical,
replication slots and WAL senders available, UTF8 encoding.  %params are
passed to PostgreSQL::Test::Cluster->new (e.g. install_path); "extra" is
passed to initdb.

=cut

sub new_source_node
{
	my ($name, %params) = @_;
	my $extra = delete $params{extra} // [ '--encoding=UTF8', '--locale=C' ];

	my $node = PostgreSQL::Test::Cluster->new($name, %params);
	$node->init(allows_streaming => 'logical', extra => $extra);
	$node->append_conf('postgresql.conf', $common_conf);
	$node->start;
	return $node;
}

=pod

=item new_target_node($name, %params)

Creates and starts a node to migrate into (no replication settings).
Takes the same parameters as new_source_node.

=cut

sub new_target_node
{
	my ($name, %params) = @_;
	my $extra = delete $params{extra} // [ '--encoding=UTF8', '--locale=C' ];

	my $node = PostgreSQL::Test::Cluster->new($name, %params);
	$node->init(extra => $extra);
	$node->append_conf('postgresql.conf', $common_conf);
	$node->start;
	return $node;
}

=pod

=item load_dataset($node, $dbname, $dataset)

Creates database $dbname on $node and loads $PGCRANE_DATASETS/$dataset.sql
into it with psql -v ON_ERROR_STOP=1.  Bails out on failure.

=cut

sub load_dataset
{
	my ($node, $dbname, $dataset) = @_;
	my $dir = $ENV{PGCRANE_DATASETS};
	BAIL_OUT('PGCRANE_DATASETS is not set') unless defined $dir;
	my $file = "$dir/$dataset.sql";
	BAIL_OUT("dataset file \"$file\" not found") unless -f $file;

	$node->safe_psql('postgres', 'CREATE DATABASE ' . quote_ident($dbname));

	my ($stdout, $stderr);
	my @cmd = (
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1',
		'-d', $node->connstr($dbname), '-f', $file);
	print "# Running: " . join(' ', @cmd) . "\n";
	my $ok = IPC::Run::run(\@cmd, '<', \undef, '>', \$stdout, '2>', \$stderr);
	BAIL_OUT("could not load dataset \"$dataset\": $stderr") unless $ok;
	print "# loaded $dataset into $dbname\n";
	return;
}

=pod

=item run_pgcrane(@args)

Runs pgcrane with @args, standard input from /dev/null, and returns
($exit_code, $stdout, $stderr) once the pgcrane process has exited
(whatever processes it left behind).  The exit code is 128 + N for a
process killed by signal N.  A run still going after four times the TAP
framework's timeout is killed, and returns exit code -1.

=cut

sub run_pgcrane
{
	my (@args) = @_;
	my $run = start_pgcrane(@args);
	my ($rc, $stdout, $stderr) =
	  finish_pgcrane($run, 4 * $PostgreSQL::Test::Utils::timeout_default);
	if (!defined $rc)
	{
		kill 'KILL', $run->{pid};
		waitpid($run->{pid}, 0);
		$rc = -1;
		$stderr .= "\n[pgcrane did not finish in time and was killed]";
		print "# pgcrane did not finish in time and was killed\n";
	}
	return ($rc, $stdout, $stderr);
}

=pod

=item start_pgcrane(@args)

Starts pgcrane with @args in the background, in a process group of its
own (so that kill('INT', -$run->{pid}) acts like Ctrl-C on a terminal),
with standard input from /dev/null and its output going to files.
Returns a handle: a hash with the process id in "pid".

=cut

my $run_dir;
my $run_count = 0;

sub start_pgcrane
{
	my (@args) = @_;
	my @cmd = (pgcrane_path(), @args);

	$run_dir //= PostgreSQL::Test::Utils::tempdir('pgcrane_runs');
	$run_count++;
	my $run = {
		cmd => \@cmd,
		stdout_file => "$run_dir/run$run_count.out",
		stderr_file => "$run_dir/run$run_count.err",
	};

	print "# Running: " . join(' ', map { _shell_quote($_) } @cmd) . "\n";
	my $pid = fork();
	BAIL_OUT("could not fork: $!") unless defined $pid;
	if ($pid == 0)
	{
		POSIX::setpgid(0, 0);
		open(STDIN, '<', '/dev/null') or POSIX::_exit(126);
		open(STDOUT, '>', $run->{stdout_file}) or POSIX::_exit(126);
		open(STDERR, '>', $run->{stderr_file}) or POSIX::_exit(126);
		{
			no warnings 'exec';
			exec { $cmd[0] } @cmd;
		}
		POSIX::_exit(127);
	}
	$run->{pid} = $pid;
	return $run;
}

=pod

=item finish_pgcrane($run, $seconds)

Waits at most $seconds for the pgcrane started by start_pgcrane to exit,
and returns ($exit_code, $stdout, $stderr); the exit code is undef when
it is still running (it is left running).

=cut

sub finish_pgcrane
{
	my ($run, $seconds) = @_;

	if (!defined $run->{rc})
	{
		my $deadline = Time::HiRes::time() + $seconds;
		for (;;)
		{
			my $r = waitpid($run->{pid}, POSIX::WNOHANG());
			if ($r == $run->{pid})
			{
				my $status = $?;
				$run->{rc} =
				  ($status & 127) ? 128 + ($status & 127) : $status >> 8;
				last;
			}
			last if Time::HiRes::time() > $deadline;
			Time::HiRes::usleep(20_000);
		}
	}
	my $stdout = -f $run->{stdout_file} ? slurp_bytes($run->{stdout_file}) : '';
	my $stderr = -f $run->{stderr_file} ? slurp_bytes($run->{stderr_file}) : '';
	if (defined $run->{rc} && !$run->{reported})
	{
		$run->{reported} = 1;
		print "# exit code: $run->{rc}\n";
		print "# stdout:\n$stdout\n" if $stdout ne '';
		print "# stderr:\n$stderr\n" if $stderr ne '';
	}
	return ($run->{rc}, $stdout, $stderr);
}

=pod

=item launch_pgcrane(@args)

Starts pgcrane with @args in the background, like start_pgcrane, but
without PGAPPNAME in its environment (its sessions then carry pgcrane's
own application_name).  Returns a hash: "pid", "start" (the time it was
started), and "out" and "err", the files holding its standard output and
error.  reap_pgcrane and wait_pgcrane fill in the rest once it has ended.

=cut

sub launch_pgcrane
{
	my (@args) = @_;
	$run_dir //= PostgreSQL::Test::Utils::tempdir('pgcrane_runs');
	$run_count++;
	my %p = (
		out => "$run_dir/run$run_count.out",
		err => "$run_dir/run$run_count.err",
		start => Time::HiRes::time());
	my @cmd = (pgcrane_path(), @args);
	print "# Running in the background: @cmd\n";
	my $pid = fork();
	die "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		POSIX::setpgid(0, 0);
		delete $ENV{PGAPPNAME};
		open(STDIN, '<', '/dev/null') or POSIX::_exit(127);
		open(STDOUT, '>', $p{out}) or POSIX::_exit(127);
		open(STDERR, '>', $p{err}) or POSIX::_exit(127);
		exec(@cmd) or POSIX::_exit(127);
	}
	POSIX::setpgid($pid, $pid);
	$p{pid} = $pid;
	return \%p;
}

=pod

=item reap_pgcrane($p)

Reaps the pgcrane started by launch_pgcrane if it has ended, without
waiting; true once it has.  It then fills in "status" (the wait status),
"end" (the time it was seen ended), "stdout", "stderr", "exit" (undef
when killed by a signal) and "signal" (0 when it exited), and prints them.

=cut

sub reap_pgcrane
{
	my ($p) = @_;
	return 1 if defined $p->{status};
	my $r = waitpid($p->{pid}, POSIX::WNOHANG());
	return 0 if $r == 0;
	$p->{status} = $?;
	$p->{end} = Time::HiRes::time();
	$p->{stdout} = slurp_bytes($p->{out});
	$p->{stderr} = slurp_bytes($p->{err});
	$p->{exit} = $p->{status} & 127 ? undef : $p->{status} >> 8;
	$p->{signal} = $p->{status} & 127;
	printf("# pgcrane %d ended after %.1f s: %s\n", $p->{pid},
		$p->{end} - $p->{start},
		$p->{signal} ? "killed by signal $p->{signal}" : "exit code $p->{exit}");
	print "# stdout:\n$p->{stdout}\n" if $p->{stdout} ne '';
	print "# stderr:\n$p->{stderr}\n" if $p->{stderr} ne '';
	return 1;
}

=pod

=item wait_pgcrane($p, $seconds)

Waits at most $seconds for the pgcrane started by launch_pgcrane to end
(see reap_pgcrane); true when it did.  When it did not, kills its process
group with SIGKILL, shows its standard error so far and returns false.

=cut

sub wait_pgcrane
{
	my ($p, $seconds) = @_;
	my $deadline = Time::HiRes::time() + $seconds;
	while (!reap_pgcrane($p))
	{
		if (Time::HiRes::time() > $deadline)
		{
			diag("pgcrane $p->{pid} still runs after $seconds s; killing it");
			kill 'KILL', -$p->{pid};
			waitpid($p->{pid}, 0);
			$p->{status} = $?;
			$p->{exit} = undef;
			diag("its stderr so far:\n" . slurp_bytes($p->{err}));
			return 0;
		}
		Time::HiRes::usleep(50_000);
	}
	return 1;
}

=pod

=item start_background($logdir, $name, @cmd)

Starts any command @cmd in the background, standard input from /dev/null,
its standard output and error appended to $logdir/$name.out and
$logdir/$name.err.  Returns its process id.

=cut

sub start_background
{
	my ($logdir, $name, @cmd) = @_;
	print "# spawn $name: " . join(' ', @cmd) . "\n";
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', "$logdir/$name.out");
		open(STDERR, '>>', "$logdir/$name.err");
		exec(@cmd) or POSIX::_exit(127);
	}
	return $pid;
}

=pod

=item wait_background($pid, $seconds)

Waits at most $seconds for the child process $pid (from
start_background) to end.  Returns its exit code, 128 + N when killed by
signal N, or undef when it still runs.

=cut

sub wait_background
{
	my ($pid, $secs) = @_;
	for (my $i = 0; $i < $secs * 10; $i++)
	{
		my $r = waitpid($pid, POSIX::WNOHANG());
		return $? >> 8 if $r == $pid && ($? & 127) == 0;
		return 128 + ($? & 127) if $r == $pid;
		select(undef, undef, undef, 0.1);
	}
	return undef;
}

=pod

=item slurp_if_exists($file)

The contents of $file as bytes, '' when it does not exist.

=cut

sub slurp_if_exists
{
	my ($file) = @_;
	return -f $file ? slurp_bytes($file) : '';
}

=pod

=item state_query($dir, $sql)

Runs $sql on the state file of work directory $dir with the sqlite3
shell (waiting up to 5 s for a lock) and returns its output without the
last newline; '' when the state file does not exist yet.

=cut

sub state_query
{
	my ($dir, $sql) = @_;
	return '' unless -f "$dir/state.db";
	my ($out, $err) = ('', '');
	IPC::Run::run(
		[ 'sqlite3', '-batch', '-noheader', '-cmd', '.timeout 5000',
			"$dir/state.db", $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	chomp $out;
	return $out;
}

=pod

=item state_kv($dir, $key)

The value of $key in the kv table of the state file of $dir, '' when
absent.

=cut

sub state_kv
{
	my ($dir, $key) = @_;
	return state_query($dir, "SELECT value FROM kv WHERE key = '$key'");
}

=pod

=item follow_origin_lsn($node, $db, $origin)

Where the target $node stands in the source's stream for the follow whose
origin is $origin: the greatest progress of that replication origin and of
those of its parallel apply lanes ($origin_l1, $origin_l2, ...), the
target's WAL flushed first; '' when there is none.

=cut

sub follow_origin_lsn
{
	my ($node, $db, $origin) = @_;
	return $node->safe_psql($db,
		"SELECT max(pg_catalog.pg_replication_origin_progress(roname, true))"
		  . " FROM pg_catalog.pg_replication_origin"
		  . " WHERE roname = '$origin' OR roname ~ ('^' || '$origin' || '_l[0-9]+\$')");
}

=pod

=item wait_state_kv($dir, $key, $re, $seconds)

Waits at most $seconds until state_kv($dir, $key) matches $re; true when
it does, otherwise shows the last value and returns false.

=cut

sub wait_state_kv
{
	my ($dir, $key, $re, $secs) = @_;
	for (my $i = 0; $i < $secs * 5; $i++)
	{
		return 1 if state_kv($dir, $key) =~ $re;
		select(undef, undef, undef, 0.2);
	}
	diag("state key $key is \"" . state_kv($dir, $key) . "\", expected $re");
	return 0;
}

=pod

=item poll_until($cond)

Calls $cond every 0.2 s until it returns true (then 1) or four times the
test timeout has passed (then 0).

=cut

sub poll_until
{
	my ($cond) = @_;
	for (my $i = 0; $i < 4 * $PostgreSQL::Test::Utils::timeout_default * 5; $i++)
	{
		return 1 if $cond->();
		Time::HiRes::usleep(200_000);
	}
	return 0;
}

=pod

=item process_alive($pid)

True when process $pid exists and is not a zombie.

=cut

sub process_alive
{
	my ($pid) = @_;
	return 0 unless $pid && $pid =~ /^\d+$/;
	open(my $fh, '<', "/proc/$pid/stat") or return 0;
	my $stat = <$fh> // '';
	close $fh;
	return $stat =~ /^\d+ \(.*\) ([A-Za-z])/ && $1 ne 'Z' && $1 ne 'X';
}

=pod

=item is_snapshot_holder($pid)

True when process $pid is a pgcrane snapshot holder.

=cut

sub is_snapshot_holder
{
	my ($pid) = @_;
	open(my $fh, '<', "/proc/$pid/cmdline") or return 0;
	local $/;
	my $cmd = <$fh> // '';
	close $fh;
	return $cmd =~ /snapshot-holder/;
}

=pod

=item wait_process_gone($pid, $seconds)

Waits at most $seconds until process $pid is gone (see process_alive);
true when it is.

=cut

sub wait_process_gone
{
	my ($pid, $seconds) = @_;
	my $deadline = Time::HiRes::time() + $seconds;
	while (process_alive($pid) && Time::HiRes::time() < $deadline)
	{
		Time::HiRes::usleep(100_000);
	}
	return !process_alive($pid);
}

=pod

=item stop_snapshot_holder($dir)

Stops the snapshot holder recorded in the state file of $dir, if it still
runs: SIGTERM, then SIGKILL when it is not gone after 10 s.

=cut

sub stop_snapshot_holder
{
	my ($dir) = @_;
	my $pid = state_kv($dir, 'snapshot.holder_pid');
	return unless process_alive($pid) && is_snapshot_holder($pid);
	note("stopping leftover snapshot holder $pid of $dir");
	kill 'TERM', $pid;
	kill 'KILL', $pid unless wait_process_gone($pid, 10);
	return;
}

=pod

=item clone_ok($test_name, @args)

Runs "pgcrane clone @args" and asserts that it exits 0; on failure shows
its standard error.  Returns ($exit_code, $stdout, $stderr).

=cut

sub clone_ok
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($test_name, @args) = @_;
	my ($rc, $stdout, $stderr) = run_pgcrane('clone', @args);
	is($rc, 0, $test_name) or diag("pgcrane clone stderr:\n$stderr");
	return ($rc, $stdout, $stderr);
}

=pod

=item clone_resume_ok($dir, $label, @args)

Runs "pgcrane clone --resume --dir $dir @args" and asserts that it exits
0; on failure shows its standard error.  Returns ($exit_code, $stdout,
$stderr).

=cut

sub clone_resume_ok
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($dir, $label, @args) = @_;
	my ($rc, $out, $err) =
	  run_pgcrane('clone', '--resume', '--dir' => $dir, @args);
	is($rc, 0, "$label: clone --resume succeeds") or diag("stderr:\n$err");
	return ($rc, $out, $err);
}

=pod

=item clone_result_ok($src, $srcdb, $dst, $dstdb, $dir, $label)

The checks once a clone of $srcdb into $dstdb with work directory $dir
has succeeded: the state file says ok, the snapshot holder stops within
30 s, databases_equal holds and "pgcrane verify" finds the target equal.
Then drops $dstdb on $dst and stops any snapshot holder left.

=cut

sub clone_result_ok
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($src, $srcdb, $dst, $dstdb, $dir, $label) = @_;
	my $status = state_kv($dir, 'status');
	is($status, 'ok', "$label: the state file says ok");
	my $holder = state_kv($dir, 'snapshot.holder_pid');
	ok(wait_process_gone($holder, $status eq 'ok' ? 30 : 0),
		"$label: the snapshot holder ($holder) is stopped");
	databases_equal($src, $srcdb, $dst, $dstdb);
	my ($rc, $out, $err) = run_pgcrane(
		'verify',
		'--source' => $src->connstr($srcdb),
		'--target' => $dst->connstr($dstdb),
		'--jobs' => 2);
	is($rc, 0, "$label: pgcrane verify finds the target equal")
	  or diag("verify output:\n$out\n$err");
	$dst->safe_psql('postgres', 'DROP DATABASE ' . quote_ident($dstdb));
	stop_snapshot_holder($dir);
	return;
}

=pod

=item error_lines($stderr)

The lines of $stderr that are errors ("pgcrane: error: ..."), without the
detail, hint and "Try ..." lines that may follow them.

=cut

sub error_lines
{
	my ($stderr) = @_;
	return grep { /^pgcrane: error: / } split /\n/, $stderr;
}

=pod

=item database_exists($node, $dbname)

True when $dbname exists on $node.

=cut

sub database_exists
{
	my ($node, $dbname) = @_;
	my $lit = quote_literal($dbname);
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_database WHERE datname = $lit") eq '1';
}

=pod

=item server_fingerprint($node)

A text that changes when anything pgcrane could do to $node changes: every
database (name and OID), in each connectable one its relations (name, kind,
relfilenode, and a table's row count), its publications and its sessions
named pgcrane; the server's replication slots and replication origins.
Two fingerprints taken before and after a refused command must be equal.

=cut

sub server_fingerprint
{
	my ($node) = @_;
	my @out;
	my $dbs = $node->safe_psql('postgres',
		"SELECT datname, oid, datallowconn FROM pg_database ORDER BY datname");
	push @out, "databases:\n$dbs";
	foreach my $line (split /\n/, $dbs)
	{
		my ($name, $oid, $conn) = split /\|/, $line;
		next if $conn ne 't' || $name eq 'template1';
		my $rels = $node->safe_psql(
			$name, q{
SELECT n.nspname || '.' || c.relname, c.relkind, c.relfilenode,
  CASE WHEN c.relkind = 'r' THEN (xpath('/row/n/text()',
    query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
      false, true, '')))[1]::text END
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname !~ '^pg_(toast|temp_)'
ORDER BY 1});
		my $pubs = $node->safe_psql($name,
			'SELECT pubname FROM pg_publication ORDER BY 1');
		push @out, "db $name ($oid) relations:\n$rels\npublications: $pubs";
	}
	push @out, 'slots: ' . $node->safe_psql('postgres',
		'SELECT string_agg(slot_name, \',\' ORDER BY slot_name) FROM pg_replication_slots');
	push @out, 'origins: ' . $node->safe_psql('postgres',
		'SELECT string_agg(roname, \',\' ORDER BY roname) FROM pg_replication_origin');
	push @out, 'sessions: ' . $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgcrane'");
	return join("\n", @out) . "\n";
}

=pod

=item holder_processes($dir)

The pids of every running "pgcrane snapshot-holder" process whose command
line names a path under $dir (every one when $dir is undef), as a sorted
list.

=cut

sub holder_processes
{
	my ($under) = @_;
	my @pids;
	opendir(my $dh, '/proc') or return ();
	foreach my $pid (sort { $a <=> $b } grep { /^\d+$/ } readdir $dh)
	{
		next unless process_alive($pid) && is_snapshot_holder($pid);
		if (defined $under)
		{
			open(my $fh, '<', "/proc/$pid/cmdline") or next;
			local $/;
			my $cmd = <$fh> // '';
			close $fh;
			next unless index($cmd, $under) >= 0;
		}
		push @pids, $pid;
	}
	closedir $dh;
	return @pids;
}

=pod

=item schema_dump_equal($src, $srcdb, $dst, $dstdb)

Asserts that "pg_dump --schema-only" of both databases is the same once
comments, SET lines, set_config calls, blank lines and the \restrict and
\unrestrict lines (whose key is random) are removed.  Shows
a unified diff on failure.

=cut

sub schema_dump_equal
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($src, $srcdb, $dst, $dstdb) = @_;

	my $name = "schema of \"$dstdb\" on target equals \"$srcdb\" on source";
	my $x = _schema_dump($src, $srcdb);
	my $y = eval { _schema_dump($dst, $dstdb) };
	if (!defined $y)
	{
		fail($name);
		diag($@);
		return 0;
	}
	if ($x eq $y)
	{
		pass($name);
		return 1;
	}
	fail($name);
	diag(_diff($x, $y, "source/$srcdb", "target/$dstdb"));
	return 0;
}

sub _schema_dump
{
	my ($node, $dbname) = @_;
	my ($stdout, $stderr);
	my @cmd = ('pg_dump', '--schema-only', '-d', $node->connstr($dbname));
	print "# Running: " . join(' ', @cmd) . "\n";
	IPC::Run::run(\@cmd, '<', \undef, '>', \$stdout, '2>', \$stderr)
	  or die "pg_dump of \"$dbname\" failed: $stderr";

	my @lines = grep {
		!/^--/
		  && !/^SET /
		  && !/^SELECT pg_catalog\.set_config/
		  && !/^\\(un)?restrict /
		  && !/^\s*$/
	} split /\n/, $stdout;
	return join("\n", @lines) . "\n";
}

sub _diff
{
	my ($x, $y, $label_a, $label_b) = @_;
	my $dir = PostgreSQL::Test::Utils::tempdir('diff');
	_write_file("$dir/a", $x);
	_write_file("$dir/b", $y);
	my ($out, $err);
	IPC::Run::run(
		[ 'diff', '-u', '--label', $label_a, '--label', $label_b,
			"$dir/a", "$dir/b" ],
		'>', \$out, '2>', \$err);
	my @lines = split /\n/, $out // '';
	if (@lines > 300)
	{
		my $more = @lines - 300;
		splice(@lines, 300);
		push @lines, "... ($more more lines)";
	}
	return join("\n", @lines);
}

=pod

=item tables_equal($src, $srcdb, $dst, $dstdb)

Asserts that both databases hold the same user tables (ordinary tables,
partitions, partitioned tables and populated materialized views, outside
the system schemas and not members of an extension), and that each has
the same number of rows and the same order-independent checksum of its
rows on both sides.  Partitioned tables are compared by row count only:
their rows are those of their partitions, which are compared in full.

=cut

sub tables_equal
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($src, $srcdb, $dst, $dstdb) = @_;

	my $list_sql = <<'EOQ';
SELECT format('%I.%I', n.nspname, c.relname),
       c.relkind,
       CASE WHEN c.relkind = 'm' AND NOT c.relispopulated
            THEN 'unpopulated' ELSE 'ok' END
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'm')
  AND n.nspname <> 'information_schema'
  AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
EOQ
	my @src_tables = _rows($src, $srcdb, $list_sql);
	my @dst_tables = _rows($dst, $dstdb, $list_sql);
	is_deeply(
		[ map { join(' ', @$_) } @dst_tables ],
		[ map { join(' ', @$_) } @src_tables ],
		"\"$dstdb\": same tables on source and target")
	  or diag(_diff(
			join("\n", map { join(' ', @$_) } @src_tables) . "\n",
			join("\n", map { join(' ', @$_) } @dst_tables) . "\n",
			"source/$srcdb", "target/$dstdb"));

	# Compare the tables both sides have and can read; any other one
	# failed above.
	my %on_target = map { $_->[0] => 1 } grep { $_->[2] eq 'ok' } @dst_tables;
	my @tables =
	  grep { $on_target{ $_->[0] } && $_->[2] eq 'ok' } @src_tables;
	if (!@tables)
	{
		return;
	}

	my @parts;
	foreach my $t (@tables)
	{
		my ($name, $relkind) = @$t;
		my $lit = quote_literal($name);
		if ($relkind eq 'p')
		{
			push @parts,
			  "SELECT $lit, count(*), 'partitioned'::text FROM $name";
		}
		else
		{
			push @parts,
			  "SELECT $lit, count(*), "
			  . "coalesce(sum(('x' || substr(md5(ROW(r.*)::text), 1, 16))::bit(64)::bigint::numeric), 0)::text "
			  . "FROM $name r";
		}
	}
	my $sql = join("\nUNION ALL\n", @parts);
	my %x = map { $_->[0] => "$_->[1] rows, checksum $_->[2]" }
	  _rows($src, $srcdb, $sql);
	my %y = map { $_->[0] => "$_->[1] rows, checksum $_->[2]" }
	  _rows_or_fail($dst, $dstdb, $sql, "\"$dstdb\": read the tables on the target");

	foreach my $t (@tables)
	{
		my $name = $t->[0];
		is($y{$name}, $x{$name}, "\"$dstdb\": table $name has the same rows");
	}
	return;
}

=pod

=item sequences_equal($src, $srcdb, $dst, $dstdb)

Asserts that both databases have the same sequences (identity and serial
ones included) and that each has the same last_value and is_called.

=cut

sub sequences_equal
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($src, $srcdb, $dst, $dstdb) = @_;

	my $list_sql = <<'EOQ';
SELECT format('%I.%I', n.nspname, c.relname)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'S'
  AND n.nspname <> 'information_schema'
  AND n.nspname NOT LIKE 'pg\_%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass
                    AND d.objid = c.oid AND d.deptype = 'e')
ORDER BY 1
EOQ
	my @src_seqs = map { $_->[0] } _rows($src, $srcdb, $list_sql);
	my @dst_seqs = map { $_->[0] } _rows($dst, $dstdb, $list_sql);
	is_deeply(\@dst_seqs, \@src_seqs,
		"\"$dstdb\": same sequences on source and target");

	my %on_target = map { $_ => 1 } @dst_seqs;
	my @seqs = grep { $on_target{$_} } @src_seqs;
	return unless @seqs;

	my $sql = join("\nUNION ALL\n",
		map { "SELECT " . quote_literal($_) . ", last_value, is_called FROM $_" }
		  @seqs);
	my %x = map { $_->[0] => "last_value $_->[1], is_called $_->[2]" }
	  _rows($src, $srcdb, $sql);
	my %y = map { $_->[0] => "last_value $_->[1], is_called $_->[2]" }
	  _rows_or_fail($dst, $dstdb, $sql,
		"\"$dstdb\": read the sequences on the target");
	foreach my $s (@seqs)
	{
		is($y{$s}, $x{$s}, "\"$dstdb\": sequence $s has the same state");
	}
	return;
}

=pod

=item large_objects_equal($src, $srcdb, $dst, $dstdb)

Asserts that both databases hold large objects with the same OIDs and,
for each, the same contents (md5 of lo_get).

=cut

sub large_objects_equal
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($src, $srcdb, $dst, $dstdb) = @_;

	my $sql = <<'EOQ';
SELECT m.oid, md5(lo_get(m.oid)), length(lo_get(m.oid))
FROM pg_largeobject_metadata m
ORDER BY m.oid
EOQ
	my $x = join("\n", map { join(' ', @$_) } _rows($src, $srcdb, $sql));
	my $y = join("\n", map { join(' ', @$_) }
		  _rows_or_fail($dst, $dstdb, $sql,
			"\"$dstdb\": read the large objects on the target"));
	is($y, $x, "\"$dstdb\": same large objects (oid, md5, length)");
	return;
}

=pod

=item databases_equal($src, $srcdb, $dst, $dstdb)

Asserts that $dstdb exists on $dst, then all of the above: schema,
tables, sequences and large objects.

=cut

sub databases_equal
{
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my ($src, $srcdb, $dst, $dstdb) = @_;
	ok(database_exists($dst, $dstdb), "database \"$dstdb\" exists on the target")
	  or return;
	schema_dump_equal($src, $srcdb, $dst, $dstdb);
	tables_equal($src, $srcdb, $dst, $dstdb);
	sequences_equal($src, $srcdb, $dst, $dstdb);
	large_objects_equal($src, $srcdb, $dst, $dstdb);
	return;
}

=pod

=item install_without_extension($extension)

Builds, under a temporary directory, a PostgreSQL installation that is the
one on PATH without the named extension: the server binaries are copied
(PostgreSQL finds its share and library directories relative to the
binary), the library directory and every file of the share directory are
symbolic links to the real ones, except the extension's control and
script files, which are left out.  This is what a server looks like when
the package that ships an extension is not installed on it.

Returns the installation path to pass as install_path to
new_target_node, or undef (with the reason) when the installation's
layout does not allow it.

=cut

sub install_without_extension
{
	my ($extension) = @_;

	my %dir;
	foreach my $what (qw(bindir sharedir pkglibdir))
	{
		my $v = `pg_config --$what`;
		return (undef, "pg_config --$what failed") if $? != 0;
		chomp $v;
		$dir{$what} = $v;
	}
	return (undef, "pg_config --bindir is not a directory named bin")
	  unless $dir{bindir} =~ m{/bin$};

	# The directories are relocated together: keep their common prefix.
	my @paths = values %dir;
	my $prefix = $paths[0];
	foreach my $p (@paths)
	{
		chop $prefix while $prefix ne '' && index("$p/", "$prefix/") != 0;
	}
	$prefix =~ s{/+$}{};

	my $root = PostgreSQL::Test::Utils::tempdir('inst');
	my %new = map { $_ => $root . substr($dir{$_}, length($prefix)) } keys %dir;

	make_path($new{bindir}, dirname($new{sharedir}), dirname($new{pkglibdir}));

	opendir(my $dh, $dir{bindir}) or return (undef, "$dir{bindir}: $!");
	foreach my $f (readdir $dh)
	{
		my $from = "$dir{bindir}/$f";
		next unless -f $from;
		copy($from, "$new{bindir}/$f") or return (undef, "copy $from: $!");
		chmod(0755, "$new{bindir}/$f");
	}
	closedir $dh;

	symlink($dir{pkglibdir}, $new{pkglibdir})
	  or return (undef, "symlink $new{pkglibdir}: $!")
	  unless -e $new{pkglibdir};

	mkdir $new{sharedir};
	opendir($dh, $dir{sharedir}) or return (undef, "$dir{sharedir}: $!");
	foreach my $f (readdir $dh)
	{
		next if $f eq '.' || $f eq '..' || $f eq 'extension';
		symlink("$dir{sharedir}/$f", "$new{sharedir}/$f");
	}
	closedir $dh;

	mkdir "$new{sharedir}/extension";
	opendir($dh, "$dir{sharedir}/extension")
	  or return (undef, "$dir{sharedir}/extension: $!");
	foreach my $f (readdir $dh)
	{
		next if $f eq '.' || $f eq '..';
		next if $f =~ /^\Q$extension\E(--.*)?\.(control|sql)$/;
		symlink("$dir{sharedir}/extension/$f", "$new{sharedir}/extension/$f");
	}
	closedir $dh;

	return (dirname($new{bindir}), undef);
}

=pod

=item slurp_bytes($file)

The contents of a file, as bytes.

=cut

sub slurp_bytes
{
	my ($file) = @_;
	open(my $fh, '<:raw', $file) or croak "could not open \"$file\": $!";
	local $/;
	my $data = <$fh>;
	close $fh;
	return $data // '';
}

=pod

=back

=cut

# Run a query and return its rows as array references, with the session
# settings that make values' text stable.  Fields are separated by the
# ASCII unit separator, which no identifier or value here holds.
sub _rows
{
	my ($node, $dbname, $sql) = @_;
	my $out = $node->safe_psql($dbname, $stable_output . $sql,
		extra_params => [ '-F', "\x1f" ]);
	return map { [ split /\x1f/, $_, -1 ] } split /\n/, $out;
}

# The same, but a query that fails on the target fails a test (named
# $test_name) and returns no rows instead of ending the test file.
sub _rows_or_fail
{
	local $Test::Builder::Level = $Test::Builder::Level + 2;
	my ($node, $dbname, $sql, $test_name) = @_;
	my @rows = eval { _rows($node, $dbname, $sql) };
	if ($@)
	{
		fail($test_name);
		diag($@);
		return ();
	}
	return @rows;
}

sub quote_ident
{
	my ($s) = @_;
	$s =~ s/"/""/g;
	return "\"$s\"";
}

sub quote_literal
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

sub _shell_quote
{
	my ($s) = @_;
	return $s if $s =~ m{^[-\w./=:,@]+$};
	$s =~ s/'/'\\''/g;
	return "'$s'";
}

sub _write_file
{
	my ($file, $data) = @_;
	open(my $fh, '>:raw', $file) or croak "could not write \"$file\": $!";
	print $fh $data;
	close $fh;
	return;
}

1;
