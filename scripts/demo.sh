#!/usr/bin/env bash
# "make demo": see pgcrane move a real database between two servers.
#
#   1. installs what is missing (scripts/install-deps.sh) and builds pgcrane
#   2. creates two throwaway PostgreSQL 15 servers in ./demo: a source
#      (port 54321, wal_level=logical) and a target (port 54322), both on
#      Unix sockets in ./demo only (no TCP)
#   3. loads the pagila sample database into the source
#   4. runs pgcrane clone, then checks the copy: pgcrane verify when it is
#      available, otherwise row counts of every table on both sides
#
# Running it again stops and removes the previous demo first.  PostgreSQL
# refuses to run as root, so as root the servers run as an unprivileged
# user (PGCRANE_DEMO_USER, default "pgcrane", created if needed).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
demo_user=${PGCRANE_DEMO_USER:-pgcrane}
src_port=54321
dst_port=54322

# Stop a demo server if it runs; as the owner of its data directory.
stop_server() {
	local pgdata=$1 owner
	[ -f "$pgdata/postmaster.pid" ] || return 0
	owner=$(stat -c %U "$pgdata")
	if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
		runuser -u "$owner" -- "$pg_bindir/pg_ctl" -D "$pgdata" -m fast -w stop || true
	else
		"$pg_bindir/pg_ctl" -D "$pgdata" -m fast -w stop || true
	fi
}

# Everything that touches the servers; runs as the unprivileged user.
# Arguments: demo directory, pgcrane binary, pagila.sql, bin dir, ports.
# (Called through "bash -c", which shellcheck cannot follow.)
# shellcheck disable=SC2317
run_demo() {
	local demo=$1 pgcrane=$2 dataset=$3 bindir=$4 sport=$5 dport=$6
	local src dst rc

	export PATH="$bindir:$PATH"
	unset PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE

	echo "== creating two servers in $demo"
	for side in src dst; do
		initdb -D "$demo/$side" -A trust --encoding=UTF8 --locale=C.UTF-8 \
			--no-sync >"$demo/$side-initdb.log" 2>&1 || {
			cat "$demo/$side-initdb.log"
			return 1
		}
		{
			echo "listen_addresses = ''"
			echo "unix_socket_directories = '$demo'"
			echo "fsync = off"
			echo "max_connections = 50"
		} >>"$demo/$side/postgresql.conf"
	done
	{
		echo "port = $sport"
		echo "wal_level = logical"
		echo "max_replication_slots = 10"
		echo "max_wal_senders = 10"
	} >>"$demo/src/postgresql.conf"
	echo "port = $dport" >>"$demo/dst/postgresql.conf"

	pg_ctl -D "$demo/src" -l "$demo/src.log" -w start >/dev/null
	pg_ctl -D "$demo/dst" -l "$demo/dst.log" -w start >/dev/null
	echo "source: port $sport, target: port $dport (sockets in $demo)"

	echo
	echo "== loading pagila into the source"
	createdb -h "$demo" -p "$sport" pagila
	psql -X -q -v ON_ERROR_STOP=1 -h "$demo" -p "$sport" -d pagila \
		-f "$dataset" >/dev/null
	psql -X -At -h "$demo" -p "$sport" -d pagila -c \
		"SELECT 'source: ' || pg_size_pretty(pg_database_size(current_database()))
		        || ', ' || count(*) || ' tables'
		 FROM pg_tables WHERE schemaname = 'public'"

	src="host=$demo port=$sport dbname=pagila"
	dst="host=$demo port=$dport dbname=pagila"

	echo
	echo "== pgcrane clone"
	echo "\$ pgcrane clone --source \"$src\" --target \"$dst\" --dir $demo/work"
	if ! "$pgcrane" clone --source "$src" --target "$dst" --dir "$demo/work"; then
		echo "demo: pgcrane clone failed" >&2
		return 1
	fi

	echo
	echo "== checking the copy"
	echo "\$ pgcrane verify --source \"$src\" --target \"$dst\""
	rc=0
	"$pgcrane" verify --source "$src" --target "$dst" || rc=$?
	case $rc in
		0)
			echo "verify: the target equals the source"
			return 0
			;;
		1)
			echo "demo: verify found differences" >&2
			return 1
			;;
	esac
	echo "verify did not run (exit code $rc); comparing row counts instead"

	# One query per side counting the rows of every table.
	local count_sql
	count_sql=$(psql -X -At -h "$demo" -p "$sport" -d pagila -c "
		SELECT string_agg(format('SELECT %L, count(*) FROM %I.%I',
		                         n.nspname || '.' || c.relname, n.nspname, c.relname),
		                  ' UNION ALL ' ORDER BY n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p')
		  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%'")
	psql -X -At -F ' ' -h "$demo" -p "$sport" -d pagila -c "$count_sql" >"$demo/rows-source.txt"
	if ! psql -X -At -F ' ' -h "$demo" -p "$dport" -d pagila -c "$count_sql" \
		>"$demo/rows-target.txt"; then
		echo "demo: could not count the rows on the target" >&2
		return 1
	fi
	printf '%-32s %10s %10s\n' table source target
	awk 'NR == FNR { target[$1] = $2; next }
		{ t = ($1 in target) ? target[$1] : "missing"
		  printf "%-32s %10s %10s%s\n", $1, $2, t, ($2 == t ? "" : "  DIFFERENT") }' \
		"$demo/rows-target.txt" "$demo/rows-source.txt"
	if ! cmp -s "$demo/rows-source.txt" "$demo/rows-target.txt"; then
		echo "demo: the row counts differ" >&2
		return 1
	fi
	echo "every table has the same number of rows on both servers"
}

echo "== dependencies and build"
if ! scripts/install-deps.sh --check 2>/dev/null; then
	scripts/install-deps.sh
fi
make -j2 pgcrane

pgcrane_bin=$repo/pgcrane
dataset=$repo/data/pagila.sql
demo=$repo/demo
as_user=()

if [ "$(id -u)" -eq 0 ]; then
	if ! id -u "$demo_user" >/dev/null 2>&1; then
		echo "creating user \"$demo_user\" to run the servers (PostgreSQL refuses root)"
		useradd -m -s /bin/bash "$demo_user"
	fi
	as_user=(runuser -u "$demo_user" --)
	# The servers' user must reach the demo directory; if it cannot reach
	# the tree, the demo runs in /tmp with copies of what it needs.
	if ! runuser -u "$demo_user" -- test -x "$repo" ||
		! runuser -u "$demo_user" -- test -r "$dataset"; then
		demo=/tmp/pgcrane-demo
	fi
fi

# A previous demo: stop its servers and remove it.
if [ -d "$demo" ]; then
	echo "removing the previous demo in $demo"
	stop_server "$demo/src"
	stop_server "$demo/dst"
	rm -rf "$demo"
fi
mkdir -p "$demo"
if [ "${#as_user[@]}" -ne 0 ]; then
	if [ "$demo" != "$repo/demo" ]; then
		cp "$pgcrane_bin" "$dataset" "$demo/"
		pgcrane_bin=$demo/pgcrane
		dataset=$demo/pagila.sql
	fi
	chown -R "$demo_user:" "$demo"
fi

rc=0
"${as_user[@]}" bash -c "set -euo pipefail; $(declare -f run_demo); run_demo \"\$@\"" run_demo \
	"$demo" "$pgcrane_bin" "$dataset" "$pg_bindir" "$src_port" "$dst_port" || rc=$?

# How to look around and clean up.
if [ "${#as_user[@]}" -ne 0 ]; then
	pfx="runuser -u $demo_user -- "
else
	pfx=""
fi
rel=${demo#"$repo"/}
echo
if [ "$rc" -eq 0 ]; then
	echo "demo: done, the servers are still running:"
else
	echo "demo: FAILED (logs: $demo/src.log, $demo/dst.log); the servers are still running:"
fi
echo "  ${pfx}$pg_bindir/psql -h $demo -p $src_port pagila    # source"
echo "  ${pfx}$pg_bindir/psql -h $demo -p $dst_port pagila    # target"
echo "clean up with:"
echo "  ${pfx}$pg_bindir/pg_ctl -D $rel/src stop"
echo "  ${pfx}$pg_bindir/pg_ctl -D $rel/dst stop"
echo "  rm -rf $rel"
exit "$rc"
