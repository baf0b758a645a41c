
# Copyright (c) pgcrane contributors

# pgcrane verify between servers that print and order values differently.
# The target server's defaults for TimeZone, DateStyle, IntervalStyle,
# extra_float_digits and bytea_output all differ from the source's, and
# its database orders text with ICU, not bytewise.  Equal data must still
# compare equal, and rows under a text key must still be found by key,
# though the two servers sort those keys differently.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgCraneTest;
use Test::More;

my $src = new_source_node('source');
my $dst = new_target_node('target');
$dst->append_conf('postgresql.conf', <<'EOC');
timezone = 'America/New_York'
datestyle = 'SQL, DMY'
intervalstyle = 'iso_8601'
extra_float_digits = 0
bytea_output = 'escape'
EOC
$dst->restart;
my $tempdir = PostgreSQL::Test::Utils::tempdir();

$src->safe_psql('postgres', 'CREATE DATABASE vs');
$src->safe_psql('vs', <<'EOSQL');
CREATE TABLE words (w text PRIMARY KEY, n int, f float8, at timestamptz,
                    d date, iv interval, b bytea, m money);
INSERT INTO words
SELECT (ARRAY['apple', 'Apple', '_apple', 'éclair', 'Zebra', 'zebra', 'b-b', 'bb'])[1 + g % 8]
         || ' ' || g,
       g, g / 7.0, timestamptz '2024-03-10 01:30:00+00' + g * interval '17 minutes',
       date '2000-02-28' + g, g * interval '1 day 1 second', decode(md5(g::text), 'hex'),
       g * 1.25
FROM generate_series(1, 5000) AS g;
EOSQL

my $dump = "$tempdir/vs.sql";
$src->command_ok([ 'pg_dump', '-f', $dump, '-d', $src->connstr('vs') ],
	'pg_dump of the source');
$dst->safe_psql('postgres',
	"CREATE DATABASE vs TEMPLATE template0 LOCALE_PROVIDER icu "
	  . "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'");
$dst->command_ok(
	[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', $dump,
		'-d', $dst->connstr('vs') ],
	'restore the dump on the target');

# The two servers really do sort these keys differently.
my $order = "SELECT string_agg(w, '|' ORDER BY w) FROM "
  . "(SELECT w FROM words WHERE n <= 8) s";
isnt($dst->safe_psql('vs', $order), $src->safe_psql('vs', $order),
	'source and target order the keys differently');

sub verify
{
	return run_pgcrane('verify', '--source' => $src->connstr('vs'),
		'--target' => $dst->connstr('vs'), @_);
}

# The databases' locales differ, and verify says so; the data is compared
# alone below.
my ($rc, $out, $err) = verify('--schema-only');
is( $out,
	"differs: database \"vs\" (locale provider, collate, ctype, locale)\n"
	  . "verify: 1 difference\n",
	'the schema comparison names the database\'s other locale');

($rc, $out, $err) = verify('--data-only');
is($rc, 0, 'equal data on differently configured servers: exits 0')
  or diag($out . $err);
like($out, qr/\Averify: OK \(1 tables, 5000 rows\)\n\z/, 'prints the OK line');

$dst->safe_psql('vs',
	"DELETE FROM words WHERE w = 'Zebra 4'; "
	  . "UPDATE words SET f = 0 WHERE w = 'éclair 3'; "
	  . "INSERT INTO words (w, n) VALUES ('apple 0', 0)");
($rc, $out, $err) = verify('--data-only');
is($rc, 1, 'planted rows: exits 1');
is( $out,
	join("\n",
		'missing on target: row of "public.words" with key (w)=(Zebra 4)',
		'extra on target: row of "public.words" with key (w)=(apple 0)',
		'changed: row of "public.words" with key (w)=(éclair 3)',
		'verify: 3 differences',
		''),
	'planted rows: reports exactly the three rows');

done_testing();
