# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # variables shared with the sourcing script
# bench/servers.sh: the two throwaway servers of the benchmarks, sourced by
# bench/run.sh and bench/catchup.sh.
#
# The caller sets bench_user, keep (0/1), src_port and dst_port, then calls
#   servers_user          as root, run the servers as $bench_user (created if
#                         needed): sets as_user (a command prefix) and run_user
#   servers_dir PREFIX    make the temporary directory $tmp; stopping and
#                         removing it is trapped on exit (servers_stop, which
#                         first runs the caller's servers_before_stop if set)
#   servers_start [CONF]  initdb and start src and dst in $tmp; CONF lines go
#                         into both postgresql.conf files
# Settings are the same for every tool measured: fsync, synchronous_commit and
# full_page_writes stay on, and only the source has wal_level = logical.

servers_user() {
	as_user=()
	if [ "$(id -u)" -eq 0 ]; then
		run_user=$bench_user
		if ! id -u "$bench_user" >/dev/null 2>&1; then
			echo "creating user \"$bench_user\" to run the servers (PostgreSQL refuses root)"
			useradd -m -s /bin/bash "$bench_user"
		fi
		as_user=(runuser -u "$bench_user" --)
	else
		run_user=$(id -un)
	fi
}

servers_stop() {
	local side
	if declare -F servers_before_stop >/dev/null; then
		servers_before_stop
	fi
	[ -n "${tmp:-}" ] || return 0
	for side in src dst; do
		if [ -f "$tmp/$side/postmaster.pid" ]; then
			"${as_user[@]}" pg_ctl -D "$tmp/$side" -m fast -w stop >/dev/null 2>&1 || true
		fi
	done
	if [ "$keep" -eq 1 ]; then
		echo "kept (servers stopped): $tmp"
	else
		rm -rf "$tmp"
	fi
}

servers_dir() {
	tmp=
	trap servers_stop EXIT
	trap 'exit 130' INT TERM
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
	chmod 755 "$tmp"
	[ "${#as_user[@]}" -eq 0 ] || chown "$bench_user:" "$tmp"
}

servers_start() {
	local side extra=${1:-}
	echo "== servers in $tmp (source port $src_port, target port $dst_port)"
	for side in src dst; do
		"${as_user[@]}" initdb -D "$tmp/$side" -A trust -E UTF8 --locale=C.UTF-8 \
			--no-sync >"$tmp/$side-initdb.log" 2>&1 || { cat "$tmp/$side-initdb.log"; exit 2; }
		cat >>"$tmp/$side/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$tmp'
max_connections = 100
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
fsync = on
synchronous_commit = on
full_page_writes = on
$extra
CONF
	done
	printf 'port = %s\nwal_level = logical\n' "$src_port" >>"$tmp/src/postgresql.conf"
	printf 'port = %s\n' "$dst_port" >>"$tmp/dst/postgresql.conf"
	for side in src dst; do
		"${as_user[@]}" pg_ctl -D "$tmp/$side" -l "$tmp/$side.log" -w start >/dev/null
	done
}
