#!/usr/bin/env bash
# "make demo": see pgcrane move a real database between two servers.
#
#   1. installs what is missing (scripts/install-deps.sh) and builds pgcrane
#   2. creates two throwaway PostgreSQL 15 servers in ./demo: a source
#      (port 54321, wal_level=logical) and a target (port 54322), both on
#      Unix sockets in ./demo only (no TCP)
#   3. loads the pagila sample database into the source
#   4. the live migration: pgbench writes to the source (rentals, payments,
#      film updates) while pgcrane clone --follow copies it and keeps
#      applying its changes; pgcrane status shows the phase and the lag;
#      the writes stop, pgcrane cutover catches up and carries the
#      sequences; pgcrane verify proves the copy; pgcrane cleanup removes
#      the slot and publication from the source
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

	# The application: rentals and payments inserted, films updated.
	cat >"$demo/writes.sql" <<'EOSQL'
\set film random(1, 1000)
\set customer random(1, 599)
BEGIN;
INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id)
  SELECT clock_timestamp(), inventory_id, :customer, 1 FROM inventory
  WHERE film_id = :film LIMIT 1;
INSERT INTO payment (customer_id, staff_id, rental_id, amount, payment_date)
  SELECT :customer, 1, currval('rental_rental_id_seq'), 4.99, '2022-06-15'
  WHERE EXISTS (SELECT FROM inventory WHERE film_id = :film);
UPDATE film SET last_update = now() WHERE film_id = :film;
COMMIT;
EOSQL

	echo
	echo "== the application writes to the source (pgbench, 50 transactions/s)"
	pgbench -n -h "$demo" -p "$sport" -c 2 -R 50 -T 600 -f "$demo/writes.sql" pagila \
		>"$demo/pgbench.log" 2>&1 &
	local writer=$!

	echo
	echo "== pgcrane clone --follow: copy, then keep applying the changes"
	echo "\$ pgcrane clone --follow --source \"$src\" --target \"$dst\" --dir $demo/work"
	"$pgcrane" clone --follow --source "$src" --target "$dst" --dir "$demo/work" \
		>"$demo/follow.log" 2>&1 &
	local follow=$!
	if ! wait_streaming "$pgcrane" "$demo/work" "$follow"; then
		kill "$writer" 2>/dev/null || true
		cat "$demo/follow.log" >&2
		echo "demo: pgcrane clone --follow did not reach streaming" >&2
		return 1
	fi
	sed -n '/^clone ok/,/^  phase  data/p' "$demo/follow.log"
	sleep 3
	echo
	echo "\$ pgcrane status --dir $demo/work"
	"$pgcrane" status --dir "$demo/work"

	echo
	echo "== the application stops writing; pgcrane cutover"
	kill "$writer" 2>/dev/null || true
	wait "$writer" 2>/dev/null || true
	echo "\$ pgcrane cutover --dir $demo/work"
	if ! "$pgcrane" cutover --dir "$demo/work"; then
		echo "demo: pgcrane cutover failed" >&2
		return 1
	fi
	wait "$follow" || true

	echo
	echo "== checking the copy"
	echo "\$ pgcrane verify --source \"$src\" --target \"$dst\""
	rc=0
	"$pgcrane" verify --source "$src" --target "$dst" || rc=$?
	echo
	echo "\$ pgcrane cleanup --dir $demo/work"
	"$pgcrane" cleanup --dir "$demo/work" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "demo: verify found differences or cleanup failed (exit code $rc)" >&2
		return 1
	fi
	echo "verify: the target equals the source, and the source keeps nothing of pgcrane's"
}

# Wait (up to 5 minutes) until the follow streams; fails if it ended.
# shellcheck disable=SC2317
wait_streaming() {
	local pgcrane=$1 dir=$2 pid=$3
	for _ in $(seq 1 600); do
		if ! kill -0 "$pid" 2>/dev/null; then
			return 1
		fi
		if "$pgcrane" status --dir "$dir" --json 2>/dev/null | grep -q '"phase": *"streaming"'; then
			return 0
		fi
		sleep 0.5
	done
	return 1
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
"${as_user[@]}" bash -c "set -euo pipefail; $(declare -f run_demo wait_streaming); run_demo \"\$@\"" run_demo \
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
