#!/usr/bin/env bash
# bench/run.sh [--shape NAME] [--size MB] [--rounds N] [--jobs N] [--split SIZE] [--tools LIST] [--server-conf LINE] [--keep]
#
# Measures how fast pgcrane clones a database, against the other ways of
# doing the same job, on two throwaway PostgreSQL 15 servers:
#
#   pgcrane         pgcrane clone --jobs N
#   pgcrane --toast-compression=lz4
#                   the same, writing TOAST values with lz4 instead of the
#                   target's default (pglz); only when this pgcrane has the
#                   option (pgcrane clone --help), else the row is left out
#   pg_dump         pg_dump -Fd -j N (default compression), then pg_restore -j N
#   pg_dump -Z0     the same without compression
#   pgcopydb        pgcopydb clone --table-jobs N --index-jobs N, with
#                   --use-copy-binary when it has it (0.18 does): the binary
#                   is $PGCOPYDB, else the pgcopydb on PATH
#   copy pipes      the floor: pre-data schema with pg_dump/pg_restore, every
#                   table piped "COPY TO STDOUT (FORMAT binary) | COPY FROM
#                   STDIN", N pipes at a time, sequence values, then
#                   post-data (indexes, constraints) with pg_restore -j N
#
# The benchmark database (bench/generate.sh, about --size MB) is built once
# on the source.  Then, unmeasured, about as much WAL as one copy writes
# (1.3 times the database size) is written on the target and checkpointed
# away: a freshly initdb'ed server has to create and zero-fill every new
# 16 MB WAL segment, while later runs recycle old ones, which made the
# first run of round 1 several seconds slower than the same run later.
# After the warm-up every measured run finds segments to recycle.
#
# Each round runs every tool once, in the order above, into a freshly
# dropped and created target database, then checks the result: row counts
# of every table, indexes, constraints and sequence values must equal the
# source's, and "pgcrane verify" runs too when this pgcrane has it
# (its time is reported beside the clone time).  Wall time is measured
# around the tool, the machine's CPU busy share over the run from
# /proc/stat deltas (all CPUs and every process: other work on the
# machine counts too; steal time apart, see cpu_ticks), peak RSS with
# GNU time (the largest process of the tool's process tree; for two-step
# tools the largest of both steps).
#
# Options (environment defaults in brackets):
#   --shape NAME    the database's shape, bench/generate.sh --shape: mixed,
#                   issue, index-heavy, many-small, huge, wide, toast
#                   [PGCRANE_BENCH_SHAPE, mixed]
#   --size MB       size of the generated database [PGCRANE_BENCH_SIZE, 1000]
#   --rounds N      rounds; medians are reported [PGCRANE_BENCH_ROUNDS, 3]
#   --jobs N        parallel jobs of every tool [PGCRANE_BENCH_JOBS, CPUs]
#   --split SIZE    pass --split-tables-larger-than SIZE to pgcrane and
#                   pgcopydb (default: each tool's own default)
#   --tools LIST    only these, comma-separated, out of pgcrane,
#                   pgcrane-lz4, pg_dump, pg_dump-Z0, pgcopydb, floor
#                   [PGCRANE_BENCH_TOOLS, all]
#   --server-conf LINE
#                   one more postgresql.conf line for both servers, such as
#                   "wal_buffers = 64MB" (repeatable) [PGCRANE_BENCH_CONF]
#   --keep          keep the servers' directory and logs (stopped) afterwards
#
# Servers: source on port 56001, target on 56002, Unix sockets only, in a
# temporary directory (TMPDIR, default /tmp), stopped and removed on exit.
# As root they run as PGCRANE_BENCH_USER (default "pgcrane", created if
# needed) since PostgreSQL refuses root; the tools connect as that role.
#
# Server settings, the same on both sides, sized for a small machine:
#   shared_buffers = 256MB, maintenance_work_mem = 256MB,
#   max_wal_size = 4GB, checkpoint_timeout = 30min (no checkpoint storm in
#   the middle of a run; a CHECKPOINT is taken before every run instead)
#   fsync = on, synchronous_commit = on, full_page_writes = on: the
#   defaults, as on a real target.  Turning durability off would flatter
#   every tool alike and hide the cost of writing the copy.
#   wal_level = logical on the source (what a live migration needs),
#   replica (the default) on the target, so loads are WAL-logged as on a
#   server with standbys.
#   autovacuum stays on; the source is frozen and analyzed after
#   generation, so it has nothing to do there.
#
# Results: a table on stdout, and bench/results/latest.json and
# bench/results/latest.md (replaced by every run).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/servers.sh
. bench/servers.sh
repo=$(pwd)
bench=$repo/bench
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
bench_user=${PGCRANE_BENCH_USER:-pgcrane}
size_mb=${PGCRANE_BENCH_SIZE:-1000}
shape=${PGCRANE_BENCH_SHAPE:-mixed}
rounds=${PGCRANE_BENCH_ROUNDS:-3}
jobs=${PGCRANE_BENCH_JOBS:-$(nproc)}
split=
keep=0
only=${PGCRANE_BENCH_TOOLS:-}
server_conf=${PGCRANE_BENCH_CONF:-}
src_port=56001
dst_port=56002
dbname=bench

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
		--shape) shape=$2; shift 2 ;;
		--shape=*) shape=${1#*=}; shift ;;
		--size) size_mb=$2; shift 2 ;;
		--size=*) size_mb=${1#*=}; shift ;;
		--rounds) rounds=$2; shift 2 ;;
		--rounds=*) rounds=${1#*=}; shift ;;
		--jobs) jobs=$2; shift 2 ;;
		--jobs=*) jobs=${1#*=}; shift ;;
		--split) split=$2; shift 2 ;;
		--split=*) split=${1#*=}; shift ;;
		--tools) only=$2; shift 2 ;;
		--tools=*) only=${1#*=}; shift ;;
		--server-conf) server_conf+=${server_conf:+$'\n'}$2; shift 2 ;;
		--server-conf=*) server_conf+=${server_conf:+$'\n'}${1#*=}; shift ;;
		--keep) keep=1; shift ;;
		-h|--help) usage; exit 0 ;;
		*) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for v in size_mb rounds jobs; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "run.sh: --${v%_mb} needs a positive number" >&2
		exit 2
	fi
done
if [ "$size_mb" -lt 50 ]; then
	echo "run.sh: --size must be 50 (MB) or more" >&2
	exit 2
fi

export PATH="$pg_bindir:$PATH"
unset PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS

# ---------------------------------------------------------------- setup
if [ ! -x /usr/bin/time ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "installing GNU time"
		apt-get install -y -q time >/dev/null
	else
		echo "run.sh: /usr/bin/time (Debian package \"time\") is needed" >&2
		exit 2
	fi
fi
command -v python3 >/dev/null || { echo "run.sh: python3 is needed" >&2; exit 2; }
pgcrane=${PGCRANE:-$repo/pgcrane}
if [ ! -x "$pgcrane" ]; then
	(unset MAKEFLAGS MFLAGS MAKELEVEL; make -C "$repo" -j2 pgcrane)
fi
have_pgcopydb=0
pgcopydb_bin=${PGCOPYDB:-$(command -v pgcopydb || true)}
pgcopydb_binary=
if [ -n "$pgcopydb_bin" ] && [ -x "$pgcopydb_bin" ]; then
	have_pgcopydb=1
	# 0.18 has --use-copy-binary; Debian's 0.10 has not.
	if "$pgcopydb_bin" clone --help 2>&1 | grep -- --use-copy-binary >/dev/null; then
		pgcopydb_binary=--use-copy-binary
	fi
fi

have_toast_compression=0
# (No grep -q: with pipefail, pgcrane could die of SIGPIPE when grep quits.)
if "$pgcrane" clone --help 2>&1 | grep -- --toast-compression >/dev/null; then
	have_toast_compression=1
fi

# key|name|function|arguments after the work directory|command shown
all_tools=("pgcrane|pgcrane|tool_pgcrane||pgcrane clone --jobs $jobs${split:+ --split-tables-larger-than $split}"
	"pgcrane-lz4|pgcrane --toast-compression=lz4|tool_pgcrane|--toast-compression=lz4|pgcrane clone --jobs $jobs${split:+ --split-tables-larger-than $split} --toast-compression=lz4"
	"pg_dump|pg_dump+pg_restore|tool_pg_dump|''|pg_dump -Fd -j $jobs; pg_restore -j $jobs"
	"pg_dump-Z0|pg_dump -Z0+pg_restore|tool_pg_dump|0|pg_dump -Fd -Z0 -j $jobs; pg_restore -j $jobs"
	"pgcopydb|pgcopydb|tool_pgcopydb||pgcopydb clone${pgcopydb_binary:+ $pgcopydb_binary} --table-jobs $jobs --index-jobs $jobs${split:+ --split-tables-larger-than $split}"
	"floor|copy pipes (floor)|tool_copy_pipes||pg_dump pre-data; psql COPY binary pipes x$jobs; pg_restore post-data -j $jobs")
tools=()
for entry in "${all_tools[@]}"; do
	key=${entry%%|*}
	if [ -n "$only" ] && [[ ",$only," != *",$key,"* ]]; then
		continue
	fi
	if [ "$key" = pgcopydb ] && [ "$have_pgcopydb" -eq 0 ]; then
		echo "pgcopydb is not installed: its row is left out"
		continue
	fi
	if [ "$key" = pgcrane-lz4 ] && [ "$have_toast_compression" -eq 0 ]; then
		echo "pgcrane has no --toast-compression: its row is left out"
		continue
	fi
	tools+=("${entry#*|}")
done
if [ "${#tools[@]}" -eq 0 ]; then
	echo "run.sh: --tools $only names none of pgcrane, pgcrane-lz4, pg_dump, pg_dump-Z0, pgcopydb, floor (or only rows left out above)" >&2
	exit 2
fi

servers_user
servers_dir pgcrane-bench
# A private copy of the binary: a rebuild of the tree during the run does
# not change what is measured.
mkdir "$tmp/bin"
cp "$pgcrane" "$tmp/bin/pgcrane"
pgcrane=$tmp/bin/pgcrane
verify_available=0
if "$pgcrane" verify --help >/dev/null 2>&1; then
	verify_available=1
fi

servers_start "maintenance_work_mem = 256MB${server_conf:+$'\n'$server_conf}"

src="host=$tmp port=$src_port user=$run_user dbname=$dbname"
dst="host=$tmp port=$dst_port user=$run_user dbname=$dbname"
dst_admin="host=$tmp port=$dst_port user=$run_user dbname=postgres"
# pgcopydb wants URIs.
src_uri="postgresql://$run_user@/$dbname?host=$tmp&port=$src_port"
dst_uri="postgresql://$run_user@/$dbname?host=$tmp&port=$dst_port"

q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

echo "== generating the benchmark database (${size_mb} MB, shape $shape) on the source"
q -d "host=$tmp port=$src_port user=$run_user dbname=postgres" -c "CREATE DATABASE $dbname"
"$bench/generate.sh" --shape "$shape" "$size_mb" "$src"
db_mb=$(q -d "$src" -c "SELECT round(pg_database_size(current_database()) / 1048576.0, 1)")

# The state a correct copy must have: every table with its row count, the
# indexes and constraints, the sequence values.  The same query runs on
# both sides and the outputs must be equal.
state_sql="
SELECT 'rows ' || n.nspname || '.' || c.relname || ' ' ||
       (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I',
                                                   n.nspname, c.relname), false, true, '')))[1]::text
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg_toast%'
UNION ALL
SELECT 'index ' || schemaname || '.' || indexname FROM pg_indexes
WHERE schemaname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'constraint ' || n.nspname || '.' || c.conname || ' ' || c.contype::text
FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'sequence ' || schemaname || '.' || sequencename || ' ' || coalesce(last_value::text, '-')
FROM pg_sequences
ORDER BY 1"
q -d "$src" -c "$state_sql" >"$tmp/state-source.txt"
n_tables=$(grep -c '^rows ' "$tmp/state-source.txt")
echo "source: $db_mb MB, $n_tables tables (partitions counted), $(grep -c '^index ' "$tmp/state-source.txt") indexes"

# Unmeasured WAL warm-up of the target.  A freshly initdb'ed server has no
# WAL segments beyond the first few: the first copy would create and
# zero-fill every 16 MB segment it writes, the later ones recycle them
# (measured: 39.5 s for the first pgcrane run against 32.8 s later).
# Writing about as much WAL as one copy (1.3 times the database size) as
# logical messages, which are WAL only, no table to write or drop, then
# checkpointing, leaves the target as an earlier run would have: segments
# to recycle, and a checkpoint distance estimate that keeps them.
warm_mb=$(awk -v m="$db_mb" 'BEGIN { printf "%d", m * 1.3 + 0.999 }')
echo "== warming up the target's WAL ($warm_mb MB)"
w0=$(date +%s.%N)
warm_lsn0=$(q -d "$dst_admin" -c "SELECT pg_current_wal_lsn()")
q -d "$dst_admin" -c "
	SELECT count(pg_logical_emit_message(false, 'pgcrane-bench-warm-up', repeat('x', 1048576)))
	FROM generate_series(1, $warm_mb)" >/dev/null
warm_written=$(q -d "$dst_admin" \
	-c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$warm_lsn0') / 1048576)" -c "CHECKPOINT")
echo "target: $warm_written MB of WAL written and checkpointed in $(awk -v a="$w0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s"

# ---------------------------------------------------------------- tools
# Each tool function copies source to target, with the work directory of
# the run as its first argument.  It runs in a child bash (set -e) under
# GNU time, so that the whole process tree is measured.

tool_pgcrane() { # extra options of pgcrane clone, if any
	local w=$1
	shift
	"$pgcrane" clone --source "$src" --target "$dst" --jobs "$jobs" --dir "$w/pgcrane-work" \
		${split:+--split-tables-larger-than "$split"} "$@" --json >"$w/pgcrane-summary.json"
}

tool_pg_dump() { # compression: "" (default) or 0
	local w=$1 z=$2
	/usr/bin/time -f '%e %M' -o "$w/time-dump" \
		pg_dump -d "$src" -Fd -j "$jobs" ${z:+-Z "$z"} -f "$w/dump" || return
	/usr/bin/time -f '%e %M' -o "$w/time-restore" \
		pg_restore -d "$dst" -j "$jobs" --exit-on-error "$w/dump"
}

tool_pgcopydb() {
	local w=$1
	PGCOPYDB_SOURCE_PGURI=$src_uri PGCOPYDB_TARGET_PGURI=$dst_uri "$pgcopydb_bin" clone \
		$pgcopydb_binary --table-jobs "$jobs" --index-jobs "$jobs" --dir "$w/pgcopydb-work" \
		${split:+--split-tables-larger-than "$split"}
}

tool_copy_pipes() {
	local w=$1
	pg_dump -d "$src" -Fc --schema-only -f "$w/schema.dump"
	pg_restore -d "$dst" --section=pre-data --exit-on-error "$w/schema.dump"
	# Largest tables first so that the pipes end together.
	psql -X -At -v ON_ERROR_STOP=1 -d "$src" -c "
		SELECT format('%I.%I', n.nspname, c.relname)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%'
		ORDER BY pg_total_relation_size(c.oid) DESC" >"$w/tables"
	# shellcheck disable=SC2016 # expanded by the child bash
	SRC=$src DST=$dst xargs -d '\n' -P "$jobs" -n 1 bash -c '
		set -o pipefail
		psql -X -q -v ON_ERROR_STOP=1 -d "$SRC" -c "COPY $1 TO STDOUT (FORMAT binary)" |
		psql -X -q -v ON_ERROR_STOP=1 -d "$DST" -c "COPY $1 FROM STDIN (FORMAT binary)"' _ \
		<"$w/tables"
	psql -X -At -v ON_ERROR_STOP=1 -d "$src" -c "
		SELECT format('SELECT pg_catalog.setval(%L, %s, true);',
		              format('%I.%I', schemaname, sequencename), last_value)
		FROM pg_sequences WHERE last_value IS NOT NULL" |
		psql -X -q -v ON_ERROR_STOP=1 -d "$dst" >/dev/null
	pg_restore -d "$dst" --section=post-data -j "$jobs" --exit-on-error "$w/schema.dump"
}

# The tool functions see these in their child bash.
export src dst src_uri dst_uri jobs pgcrane split pgcopydb_bin pgcopydb_binary

now() { date +%s.%N; }
# The machine's CPU counters over all CPUs: busy jiffies, busy plus idle
# jiffies, and stolen ones.  Steal (the hypervisor running another
# machine while this one had work) is neither busy nor idle here: the
# busy share is busy / (busy + idle), and steal is reported on its own
# as a share of all jiffies.  (On a shared host it reached 22 % of a run.)
# (read and printf are builtins, so a reading forks nothing.)
cpu_ticks() {
	local label us ni sy id io irq si st rest
	read -r label us ni sy id io irq si st rest </proc/stat
	printf '%d %d %d\n' $((us + ni + sy + irq + si)) $((us + ni + sy + id + io + irq + si)) "$st"
}
# The same counters ten times a second, after the time, until killed: the
# CPU busy share of the data phase of a pgcrane row is read from them.
cpu_sampler() {
	while :; do
		printf '%s ' "${EPOCHREALTIME/,/.}"
		cpu_ticks
		sleep 0.1
	done
}
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

runs=$tmp/runs.jsonl
: >"$runs"

# Fresh empty target database, settled server.
reset_target() {
	PGOPTIONS="-c client_min_messages=warning" q -d "$dst_admin" -c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" \
		-c "CREATE DATABASE $dbname" -c "CHECKPOINT"
	q -d "host=$tmp port=$src_port user=$run_user dbname=postgres" -c "CHECKPOINT"
}


# Width of the tool names in the lines printed after each run.
name_w=24
for entry in "${tools[@]}"; do
	name=${entry%%|*}
	[ "${#name}" -le "$name_w" ] || name_w=${#name}
done

echo
echo "== $rounds round(s), $jobs job(s) each; pgcrane verify: $([ $verify_available -eq 1 ] && echo available || echo "not available, row counts only")"
for ((round = 1; round <= rounds; round++)); do
	for entry in "${tools[@]}"; do
		IFS='|' read -r name fn args shown <<<"$entry"
		w=$tmp/run
		rm -rf "$w"
		mkdir -p "$w"
		reset_target

		cpu_sampler >"$w/cpu-samples" &
		sampler=$!
		read -r busy0 total0 steal0 < <(cpu_ticks)
		t0=$(now)
		rc=0
		/usr/bin/time -f '%e %M' -o "$w/time-tool" \
			bash -c "set -eo pipefail; $(declare -f tool_pgcrane tool_pg_dump tool_pgcopydb tool_copy_pipes); $fn \"\$1\" $args" \
			_ "$w" >"$w/stdout.log" 2>"$w/stderr.log" || rc=$?
		t1=$(now)
		read -r busy1 total1 steal1 < <(cpu_ticks)
		kill "$sampler" 2>/dev/null || true
		wait "$sampler" 2>/dev/null || true
		cpu_busy=$(awk -v b=$((busy1 - busy0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.1f", (t > 0 ? 100 * b / t : 0) }')
		cpu_steal=$(awk -v s=$((steal1 - steal0)) -v t=$((total1 - total0)) 'BEGIN { printf "%.1f", (s + t > 0 ? 100 * s / (s + t) : 0) }')
		wall=$(elapsed "$t0" "$t1")
		rss_kb=$(awk 'END { print $NF }' "$w/time-tool")
		dump_s=""
		restore_s=""
		if [ -f "$w/time-dump" ]; then
			dump_s=$(awk 'END { print $1 }' "$w/time-dump")
			restore_s=$(awk 'END { print $1 }' "$w/time-restore" 2>/dev/null || true)
		fi

		# Check the copy.
		check=ok
		: >"$w/check.txt"
		if [ "$rc" -ne 0 ]; then
			check=skipped
		elif ! q -d "$dst" -c "$state_sql" >"$w/state-target.txt" 2>"$w/check.txt"; then
			check=FAILED
		elif ! cmp -s "$tmp/state-source.txt" "$w/state-target.txt"; then
			check=FAILED
			{ diff "$tmp/state-source.txt" "$w/state-target.txt" | grep '^[<>]' | head -n 12; } >"$w/check.txt" || true
		fi
		verify_s=""
		verify_rc=""
		if [ "$verify_available" -eq 1 ] && [ "$rc" -eq 0 ]; then
			v0=$(now)
			verify_rc=0
			"$pgcrane" verify --source "$src" --target "$dst" --jobs "$jobs" \
				>"$w/verify.log" 2>&1 || verify_rc=$?
			verify_s=$(elapsed "$v0" "$(now)")
			[ "$verify_rc" -eq 0 ] || check=FAILED
		fi
		cat "$w/stderr.log" "$w/stdout.log" | tail -n 20 >"$w/error.txt"

		R_ROUND=$round R_TOOL=$name R_FN=$fn R_RC=$rc R_WALL=$wall R_RSS=$rss_kb R_DUMP=$dump_s \
			R_RESTORE=$restore_s R_CPU=$cpu_busy R_STEAL=$cpu_steal R_T0=$t0 R_CHECK=$check R_VERIFY_S=$verify_s R_VERIFY_RC=$verify_rc \
			python3 - "$runs" "$w" <<'EOF'
import json, os, sys
e = os.environ
w = sys.argv[2]
def num(v, cast=float):
    return cast(v) if v not in ("", None) else None
def text(name, lines=20):
    try:
        with open(os.path.join(w, name), errors="replace") as f:
            t = "".join(f.readlines()[-lines:]).strip()
        return t or None
    except OSError:
        return None
rc = int(e["R_RC"])
summary = None
if e["R_FN"] == "tool_pgcrane":  # every pgcrane row, whatever its options
    try:
        with open(os.path.join(w, "pgcrane-summary.json")) as f:
            summary = json.load(f)
        # The five largest tables and slowest indexes instead of all.
        if isinstance(summary.get("tables"), list):
            tables = sorted(summary.pop("tables"), key=lambda t: -t.get("bytes", 0))
            summary["largest_tables"] = tables[:5]
        if isinstance(summary.get("indexes"), list):
            indexes = sorted(summary.pop("indexes"), key=lambda i: -i.get("seconds", 0))
            summary["slowest_indexes"] = indexes[:5]
    except (OSError, ValueError, AttributeError):
        pass
# The data phase's window: the phases before it from the start of the run;
# its busy share and its steal share, as the run's are computed.
def data_phase_cpu():
    if not summary or not isinstance(summary.get("phases"), list):
        return None
    start = float(e["R_T0"])
    for ph in summary["phases"]:
        if ph.get("name") == "data":
            end = start + ph.get("seconds", 0)
            break
        start += ph.get("seconds", 0)
    else:
        return None
    try:
        with open(os.path.join(w, "cpu-samples")) as f:
            samples = [tuple(float(x) for x in l.split()) for l in f if len(l.split()) == 4]
    except OSError:
        return None
    inside = [s for s in samples if start <= s[0] <= end]
    if len(inside) < 2 or inside[-1][2] <= inside[0][2]:
        return None
    total = inside[-1][2] - inside[0][2]
    steal = inside[-1][3] - inside[0][3]
    return (round(100 * (inside[-1][1] - inside[0][1]) / total, 1),
            round(100 * steal / (total + steal), 1))
phase = data_phase_cpu() or (None, None)
rec = {"round": int(e["R_ROUND"]), "tool": e["R_TOOL"], "exit_code": rc,
       "wall_s": num(e["R_WALL"]), "peak_rss_kib": num(e["R_RSS"], int),
       "dump_s": num(e["R_DUMP"]), "restore_s": num(e["R_RESTORE"]),
       "cpu_busy_pct": num(e["R_CPU"]), "cpu_busy_data_phase_pct": phase[0],
       "cpu_steal_pct": num(e["R_STEAL"]), "cpu_steal_data_phase_pct": phase[1],
       "check": e["R_CHECK"], "check_detail": text("check.txt"),
       "verify_s": num(e["R_VERIFY_S"]), "verify_exit_code": num(e["R_VERIFY_RC"], int),
       "verify_output": text("verify.log") if e["R_VERIFY_RC"] not in ("", "0") else None,
       "error": text("error.txt") if rc != 0 else None,
       "pgcrane_summary": summary}
with open(sys.argv[1], "a") as f:
    f.write(json.dumps(rec) + "\n")
EOF
		line=$(printf '  round %d  %-*s %8ss  %7s MiB  CPU %5s%% (steal %s%%)  check %s' "$round" "$name_w" "$name" "$wall" \
			"$(awk -v k="${rss_kb:-0}" 'BEGIN { printf "%.0f", k / 1024 }')" "$cpu_busy" "$cpu_steal" "$check")
		[ -z "$verify_s" ] || line+="  verify ${verify_s}s (exit $verify_rc)"
		echo "$line"
		if [ "$rc" -ne 0 ]; then
			echo "    $name FAILED (exit $rc):"
			cat "$w/stderr.log" "$w/stdout.log" | tail -n 12 | sed 's/^/    | /'
		elif [ "$check" = FAILED ]; then
			sed 's/^/    | /' "$w/check.txt"
			[ ! -s "$w/verify.log" ] || tail -n 8 "$w/verify.log" | sed 's/^/    verify| /'
		fi
	done
done

# ---------------------------------------------------------------- report
mkdir -p "$bench/results"
tool_specs=$(for entry in "${tools[@]}"; do
	IFS='|' read -r name fn args shown <<<"$entry"
	printf '%s\t%s\n' "$name" "$shown"
done)
pg_version=$(q -d "$src" -c "SHOW server_version")
pgcopydb_version=
if [ "$have_pgcopydb" -eq 1 ]; then
	pgcopydb_version=$("$pgcopydb_bin" --version 2>/dev/null | awk '/^pgcopydb version/ { print $3 }')
	# A build outside a git checkout prints no version: name its directory.
	[ -n "$pgcopydb_version" ] ||
		pgcopydb_version="(no version printed; directory $(basename "$(dirname "$pgcopydb_bin")"))"
fi
git_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty=$(git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null | grep -q . && echo true || echo false)

B_PGCRANE=$("$pgcrane" --version 2>/dev/null | head -n 1) B_COMMIT=$git_commit B_DIRTY=$git_dirty \
B_PG=$pg_version B_PGCOPYDB=$pgcopydb_version B_SHAPE=$shape B_SIZE=$size_mb B_DB_MB=$db_mb B_TABLES=$n_tables \
B_ROUNDS=$rounds B_JOBS=$jobs B_SPLIT=$split B_VERIFY=$verify_available TOOL_SPECS=$tool_specs \
B_SERVER_CONF=$server_conf \
	python3 - "$runs" "$bench/results" <<'EOF'
import json, os, statistics, sys, datetime, platform

e = os.environ
runs = [json.loads(l) for l in open(sys.argv[1])]
outdir = sys.argv[2]
specs = [l.split("\t", 1) for l in e["TOOL_SPECS"].splitlines() if l]
meta = {
    "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "pgcrane": e["B_PGCRANE"], "git_commit": e["B_COMMIT"], "git_dirty": e["B_DIRTY"] == "true",
    "postgresql": e["B_PG"], "pgcopydb": e["B_PGCOPYDB"] or None,
    "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                "memory_mib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20)},
    "shape": e["B_SHAPE"],
    "size_mb_requested": int(e["B_SIZE"]), "database_mb": float(e["B_DB_MB"]),
    "tables": int(e["B_TABLES"]), "rounds": int(e["B_ROUNDS"]), "jobs": int(e["B_JOBS"]),
    "split_tables_larger_than": e["B_SPLIT"] or None,
    "verify_available": e["B_VERIFY"] == "1",
    "server_settings": {"shared_buffers": "256MB", "maintenance_work_mem": "256MB",
                        "max_wal_size": "4GB", "checkpoint_timeout": "30min",
                        "fsync": "on", "synchronous_commit": "on", "full_page_writes": "on",
                        "wal_level": {"source": "logical", "target": "replica"},
                        "added": [l for l in e.get("B_SERVER_CONF", "").splitlines() if l]},
}

def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 2) if xs else None

tools = []
for name, command in specs:
    rs = [r for r in runs if r["tool"] == name]
    good = [r for r in rs if r["exit_code"] == 0]
    checked = [r for r in good if r["check"] == "ok"]
    rss = [r["peak_rss_kib"] for r in good if r["peak_rss_kib"] is not None]
    t = {"tool": name, "command": command,
         "median_wall_s": med([r["wall_s"] for r in good]),
         "peak_rss_mib": round(max(rss) / 1024, 1) if rss else None,
         "median_verify_s": med([r["verify_s"] for r in good]),
         "median_cpu_busy_pct": med([r.get("cpu_busy_pct") for r in good]),
         "median_cpu_busy_data_phase_pct": med([r.get("cpu_busy_data_phase_pct") for r in good]),
         "median_cpu_steal_pct": med([r.get("cpu_steal_pct") for r in good]),
         "runs": len(rs), "failed_runs": len(rs) - len(good),
         "check": ("ok" if good and len(checked) == len(good) else
                   "FAILED" if good else "-")}
    if any(r["dump_s"] is not None for r in good):
        t["median_dump_s"] = med([r["dump_s"] for r in good])
        t["median_restore_s"] = med([r["restore_s"] for r in good])
    tools.append(t)

# The default pgcrane row, by its exact name: not "pgcrane --toast-compression=lz4".
base = next((t for t in tools if t["tool"] == "pgcrane"), None)
for t in tools:
    def ratio(key):
        if base and base[key] and t[key]:
            return round(base[key] / t[key], 2)
        return None
    t["time_ratio_pgcrane_over_tool"] = ratio("median_wall_s")
    t["rss_ratio_pgcrane_over_tool"] = ratio("peak_rss_mib")
# Every row against pgcopydb, the closest tool: below 1 the row is faster.
pgc = next((t for t in tools if t["tool"] == "pgcopydb"), None)
for t in tools:
    t["time_ratio_tool_over_pgcopydb"] = (
        round(t["median_wall_s"] / pgc["median_wall_s"], 2)
        if pgc and pgc["median_wall_s"] and t["median_wall_s"] else None)

def fmt(v, f="{:.2f}"):
    return "-" if v is None else f.format(v)

verify = meta["verify_available"]
head = ["tool", "median wall s", "peak RSS MiB", "time pgcrane/tool", "RSS pgcrane/tool", "check",
        "CPU busy %", "CPU data %", "steal %", "time tool/pgcopydb"]
if verify:
    head.append("verify s")
rows = []
for t in tools:
    status = t["check"]
    if t["failed_runs"]:
        status = "FAILED %d of %d runs" % (t["failed_runs"], t["runs"])
    row = [t["tool"], fmt(t["median_wall_s"]), fmt(t["peak_rss_mib"], "{:.1f}"),
           fmt(t["time_ratio_pgcrane_over_tool"]), fmt(t["rss_ratio_pgcrane_over_tool"]), status,
           fmt(t["median_cpu_busy_pct"], "{:.1f}"), fmt(t["median_cpu_busy_data_phase_pct"], "{:.1f}"),
           fmt(t["median_cpu_steal_pct"], "{:.1f}"), fmt(t["time_ratio_tool_over_pgcopydb"])]
    if verify:
        row.append(fmt(t["median_verify_s"]))
    rows.append(row)

widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
def line(cells):
    return "  ".join(str(c).ljust(w) if i in (0, 5) else str(c).rjust(w)
                     for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
print()
print("== results: shape %s, %.0f MB database, %d tables, %d job(s), %d round(s), medians"
      % (meta["shape"], meta["database_mb"], meta["tables"], meta["jobs"], meta["rounds"]))
print(line(head))
print(line(["-" * w for w in widths]))
for r in rows:
    print(line(r))
print("pgcrane/tool below 1: pgcrane needs less (0.50 = half the time or memory).")

failures = [r for r in runs if r["exit_code"] != 0 or r["check"] == "FAILED"]

doc = dict(meta, tools=tools, runs=runs)
with open(os.path.join(outdir, "latest.json"), "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")

md = ["# pgcrane benchmark: latest run", "",
      "%s, %s (commit %s%s), PostgreSQL %s%s." % (
          meta["generated_at"], meta["pgcrane"] or "pgcrane", meta["git_commit"],
          ", with uncommitted changes" if meta["git_dirty"] else "", meta["postgresql"],
          ", pgcopydb " + meta["pgcopydb"] if meta["pgcopydb"] else ""),
      "",
      "Database: %.0f MB (bench/generate.sh --shape %s %d), %d tables; %d job(s) per tool; "
      "%d round(s); %d CPUs, %d MiB RAM." % (
          meta["database_mb"], meta["shape"], meta["size_mb_requested"], meta["tables"], meta["jobs"],
          meta["rounds"], meta["machine"]["cpus"], meta["machine"]["memory_mib"])
      + ("" if not meta["server_settings"]["added"] else
         " Added to both servers' settings: %s." % ", ".join(
             "`%s`" % l for l in meta["server_settings"]["added"])),
      "",
      "| " + " | ".join(head) + " |",
      "|" + "|".join(["---"] + ["---:"] * 4 + ["---"] + ["---:"] * 3 + (["---:"] if verify else [])) + "|"]
for r in rows:
    md.append("| " + " | ".join(str(c) for c in r) + " |")
md += ["",
       "Wall time: median over the rounds. Peak RSS: the largest over the rounds of the "
       "largest process in the tool's process tree (pg_dump and pg_restore: the larger "
       "of both). Ratios are pgcrane divided by the tool: below 1, pgcrane needs less "
       "time or memory than that tool.",
       "", "Commands:", ""]
for t in tools:
    md.append("- %s: `%s`" % (t["tool"], t["command"]))
if failures:
    md += ["", "## Failures", ""]
    for r in failures:
        md.append("- round %d, %s: exit %d, check %s" % (r["round"], r["tool"], r["exit_code"], r["check"]))
        text = (r["error"] or r["check_detail"] or r["verify_output"] or "").strip()
        if text:
            md += ["", "  ```"] + ["  " + l for l in text.splitlines()] + ["  ```", ""]
# pgcrane's own prediction (clone --plan's model) against what it took.
pred = []
for name, _ in specs:
    sums = [r["pgcrane_summary"] for r in runs
            if r["tool"] == name and r["exit_code"] == 0 and r.get("pgcrane_summary")]
    phases = []
    for s in sums:
        for p in s.get("phases", []):
            if p["name"] not in phases:
                phases.append(p["name"])
    for ph in phases:
        act = med([p["seconds"] for s in sums for p in s["phases"] if p["name"] == ph])
        pr = med([p.get("predicted_seconds") for s in sums for p in s["phases"] if p["name"] == ph])
        pred.append((name, ph, pr, act))
    if sums:
        pred.append((name, "total", med([s.get("predicted_seconds") for s in sums]),
                     med([s.get("seconds") for s in sums])))
if pred:
    md += ["", "## pgcrane: predicted against actual, per phase (medians)", "",
           "| row | phase | predicted s | actual s | actual/predicted |", "|---|---|---:|---:|---:|"]
    for name, ph, pr, act in pred:
        md.append("| %s | %s | %s | %s | %s |" % (name, ph, fmt(pr), fmt(act),
                  fmt(act / pr) if pr and act is not None else "-"))
with open(os.path.join(outdir, "latest.md"), "w") as f:
    f.write("\n".join(md).rstrip() + "\n")
print("results: %s/latest.json and latest.md" % os.path.relpath(outdir))
EOF

# A failed pgcrane run (either pgcrane row) or a copy that does not match
# fails the benchmark; the other tools' failures are only reported.
# (No grep -q: with pipefail, the first grep could die of SIGPIPE.)
if grep -e '"tool": "pgcrane"' -e '"tool": "pgcrane --toast-compression=lz4"' "$runs" |
	grep -e '"exit_code": [1-9]' -e '"check": "FAILED"' >/dev/null; then
	echo "run.sh: pgcrane failed or its copy differs from the source (see above)" >&2
	exit 1
fi
