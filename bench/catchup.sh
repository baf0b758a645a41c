#!/usr/bin/env bash
# bench/catchup.sh [--scale N] [--seconds T] [--clients C] [--rounds R]
#                   [--apply-jobs J[,J...]] [--lag-tps R] [--keep]
#
# How fast does "pgcrane follow" catch up with a backlog of changes,
# compared with PostgreSQL's own logical replication applying the very same
# changes?  On two throwaway PostgreSQL 15 servers:
#
#   1.  the source gets a pgbench database (pgbench -i -s N), with
#       pgbench_history set to REPLICA IDENTITY FULL (it has no key); a
#       publication and a logical replication slot per applier are created
#       while nothing writes, and the database is copied (pg_dump | psql)
#       into a target database per applier: "crane_J" for pgcrane follow
#       --apply-jobs J (each J of --apply-jobs), "native" for a subscription;
#   2.  each pgcrane work directory records its slot as "pgcrane clone
#       --follow" would; the subscription is created on its own slot with
#       copy_data = false, disabled;
#   3.  each round, with both appliers paused (pgcrane follow not running,
#       the subscription disabled), pgbench -c C -T T writes to the source;
#       then pgcrane follow --apply-jobs J starts and is timed until
#       "crane_J" holds every transaction (its pgbench_history has the
#       source's row count: rows are added one per transaction, applied in
#       commit order), and is stopped (SIGINT), for each J in turn; and
#       the subscription is enabled and timed the same way on "native", and
#       disabled again.  The appliers run one after the other, never at the
#       same time; the order turns round every round (odd rounds: pgcrane
#       from the last J to the first, then native; even rounds: native,
#       then pgcrane from the first J), since the first to go reads the WAL
#       from disk.
#
# Both apply asynchronously (the subscription's synchronous_commit is off
# by default, pgcrane commits with synchronous_commit off and confirms
# only what the target has flushed); server settings are the same on both
# sides and durable (fsync, full_page_writes on).
#
# Options (environment defaults in brackets):
#   --scale N     pgbench scale [PGCRANE_CATCHUP_SCALE, 10]
#   --seconds T   pgbench duration of each round [PGCRANE_CATCHUP_SECONDS, 30]
#   --clients C   pgbench clients [PGCRANE_CATCHUP_CLIENTS, 4]
#   --rounds R    rounds; medians are reported [PGCRANE_CATCHUP_ROUNDS, 1]
#   --apply-jobs J[,J...]  pgcrane follow --apply-jobs values, each timed
#                 on the same backlog [PGCRANE_CATCHUP_APPLY_JOBS, 1]
#   --lag-tps R   after the rounds, for each J: pgbench -R R -c C -T 20
#                 while pgcrane follow --apply-jobs J runs, and "pgcrane
#                 status --json" sampled every second for the lag
#                 [PGCRANE_CATCHUP_LAG_TPS, 0: not measured]; pgbench's
#                 sessions run with synchronous_commit off (the source's
#                 commits do not wait for its disk), or a 2-core machine
#                 whose disk is slow to flush cannot write that many
#                 transactions a second
#   --keep        keep the servers' directory and logs (stopped)
#
# Servers: source on port 56011, target on 56012, Unix sockets only, in a
# temporary directory (TMPDIR, default /tmp), stopped and removed on exit.
# As root they run as PGCRANE_BENCH_USER (default "pgcrane").
#
# Results: a table on stdout and bench/results/catchup.json and
# bench/results/catchup.md (replaced by every run).  "time ratio" is
# pgcrane's catch-up time divided by the subscription's, per round, and its
# median, for each --apply-jobs value: below 1 pgcrane is faster.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=bench/servers.sh
. bench/servers.sh
repo=$(pwd)
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
bench_user=${PGCRANE_BENCH_USER:-pgcrane}
scale=${PGCRANE_CATCHUP_SCALE:-10}
seconds=${PGCRANE_CATCHUP_SECONDS:-30}
clients=${PGCRANE_CATCHUP_CLIENTS:-4}
rounds=${PGCRANE_CATCHUP_ROUNDS:-1}
apply_jobs=${PGCRANE_CATCHUP_APPLY_JOBS:-1}
lag_tps=${PGCRANE_CATCHUP_LAG_TPS:-0}
keep=0
src_port=56011
dst_port=56012

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

while [ $# -gt 0 ]; do
	case $1 in
		--scale) scale=$2; shift 2 ;;
		--scale=*) scale=${1#*=}; shift ;;
		--seconds) seconds=$2; shift 2 ;;
		--seconds=*) seconds=${1#*=}; shift ;;
		--clients) clients=$2; shift 2 ;;
		--clients=*) clients=${1#*=}; shift ;;
		--rounds) rounds=$2; shift 2 ;;
		--rounds=*) rounds=${1#*=}; shift ;;
		--apply-jobs) apply_jobs=$2; shift 2 ;;
		--apply-jobs=*) apply_jobs=${1#*=}; shift ;;
		--lag-tps) lag_tps=$2; shift 2 ;;
		--lag-tps=*) lag_tps=${1#*=}; shift ;;
		--keep) keep=1; shift ;;
		-h|--help) usage; exit 0 ;;
		*) echo "catchup.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
	esac
done
for v in scale seconds clients rounds; do
	if ! [[ ${!v} =~ ^[1-9][0-9]*$ ]]; then
		echo "catchup.sh: --$v needs a positive number" >&2
		exit 2
	fi
done
if ! [[ $lag_tps =~ ^[0-9]+$ ]]; then
	echo "catchup.sh: --lag-tps needs a number" >&2
	exit 2
fi
if ! [[ $apply_jobs =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]]; then
	echo "catchup.sh: --apply-jobs needs numbers separated by commas" >&2
	exit 2
fi
IFS=, read -r -a jobs_list <<<"$apply_jobs"

export PATH="$pg_bindir:$PATH"
unset PGHOST PGPORT PGDATABASE PGUSER PGPASSWORD PGSERVICE PGOPTIONS

command -v python3 >/dev/null || { echo "catchup.sh: python3 is needed" >&2; exit 2; }
command -v sqlite3 >/dev/null || { echo "catchup.sh: sqlite3 is needed" >&2; exit 2; }
pgcrane=${PGCRANE:-$repo/pgcrane}
if [ ! -x "$pgcrane" ]; then
	(unset MAKEFLAGS MFLAGS MAKELEVEL; make -C "$repo" -j2 pgcrane)
fi

servers_user
follow_pid=
# Stop a follow still running before the servers go.
servers_before_stop() {
	if [ -n "$follow_pid" ]; then
		kill -INT "$follow_pid" 2>/dev/null || true
		wait "$follow_pid" 2>/dev/null || true
	fi
}
servers_dir pgcrane-catchup
mkdir "$tmp/bin"
cp "$pgcrane" "$tmp/bin/pgcrane"
pgcrane=$tmp/bin/pgcrane

servers_start ""

src="host=$tmp port=$src_port user=$run_user dbname=bench"
crane_dsn() { echo "host=$tmp port=$dst_port user=$run_user dbname=crane_$1"; }
native="host=$tmp port=$dst_port user=$run_user dbname=native"
q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }

echo "== pgbench -i -s $scale on the source"
q -d "host=$tmp port=$src_port user=$run_user dbname=postgres" -c "CREATE DATABASE bench"
pgbench -i -s "$scale" -q "$src" >"$tmp/pgbench-init.log" 2>&1
q -d "$src" -c "ALTER TABLE pgbench_history REPLICA IDENTITY FULL" \
	-c "CREATE PUBLICATION catchup FOR ALL TABLES"
declare -A crane_lsn
for j in "${jobs_list[@]}"; do
	crane_lsn[$j]=$(q -d "$src" -c "SELECT lsn FROM pg_create_logical_replication_slot('pgcrane_catchup_$j', 'pgoutput')")
done
q -d "$src" -c "SELECT pg_create_logical_replication_slot('native_catchup', 'pgoutput')" >/dev/null
for db in "${jobs_list[@]/#/crane_}" native; do
	q -d "host=$tmp port=$dst_port user=$run_user dbname=postgres" -c "CREATE DATABASE $db"
	pg_dump -d "$src" --no-publications |
		psql -X -q -v ON_ERROR_STOP=1 -d "host=$tmp port=$dst_port user=$run_user dbname=$db" >/dev/null
done

# pgcrane's work directories, as clone --follow leaves them.
for j in "${jobs_list[@]}"; do
	mkdir "$tmp/work_$j"
	sqlite3 "$tmp/work_$j/state.db" <<EOF
CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE step (name TEXT PRIMARY KEY, status TEXT, started TEXT, finished TEXT, seconds REAL);
INSERT INTO kv VALUES ('source', '$src'), ('target', '$(crane_dsn "$j")'), ('status', 'ok'),
  ('follow.slot', 'pgcrane_catchup_$j'), ('follow.publication', 'catchup'),
  ('follow.origin', 'pgcrane_catchup_$j'), ('follow.start_lsn', '${crane_lsn[$j]}');
INSERT INTO step VALUES ('data', 'done', NULL, NULL, 0);
EOF
done
q -d "$native" -c "CREATE SUBSCRIPTION native_catchup CONNECTION '$src' PUBLICATION catchup
	WITH (copy_data = false, create_slot = false, slot_name = 'native_catchup', enabled = false)"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# Wait until the target database has as many pgbench_history rows as the
# source: every transaction is applied.
wait_caught_up() {
	local dsn=$1 want=$2 have
	for ((i = 0; i < 36000; i++)); do
		have=$(q -d "$dsn" -c "SELECT count(*) FROM pgbench_history")
		[ "$have" = "$want" ] && return 0
		sleep 0.05
	done
	echo "catchup.sh: $dsn did not catch up ($have of $want rows)" >&2
	return 1
}

# The same rows in every pgbench table on the source and the target.
check_equal() {
	local dsn=$1 t a b
	for t in pgbench_accounts pgbench_branches pgbench_tellers pgbench_history; do
		a=$(q -d "$src" -c "SELECT count(*), sum(hashtext(x::text)) FROM $t x")
		b=$(q -d "$dsn" -c "SELECT count(*), sum(hashtext(x::text)) FROM $t x")
		if [ "$a" != "$b" ]; then
			echo "catchup.sh: $t differs on ${dsn##*dbname=} ($b, source $a)" >&2
			return 1
		fi
	done
}

# Time pgcrane follow --apply-jobs $1 until crane_$1 has every transaction.
time_crane() {
	local j=$1 t0
	t0=$(now)
	"$pgcrane" follow --dir "$tmp/work_$j" --apply-jobs "$j" -q >>"$tmp/follow.log" 2>&1 &
	follow_pid=$!
	wait_caught_up "$(crane_dsn "$j")" "$want"
	t_crane[$j]=$(elapsed "$t0" "$(now)")
	kill -INT "$follow_pid"
	wait "$follow_pid" || true
	follow_pid=
	check_equal "$(crane_dsn "$j")"
}

# Time the subscription until native has every transaction.
time_native() {
	local t0
	t0=$(now)
	q -d "$native" -c "ALTER SUBSCRIPTION native_catchup ENABLE"
	wait_caught_up "$native" "$want"
	t_native=$(elapsed "$t0" "$(now)")
	q -d "$native" -c "ALTER SUBSCRIPTION native_catchup DISABLE"
	check_equal "$native"
	# Wait for the apply worker to go, so the next applier starts alone.
	for ((i = 0; i < 200; i++)); do
		[ "$(q -d "$native" -c "SELECT count(pid) FROM pg_stat_subscription")" = 0 ] && break
		sleep 0.05
	done
}

results=$tmp/rounds.jsonl
: >"$results"
for ((round = 1; round <= rounds; round++)); do
	echo "== round $round: pgbench -c $clients -T $seconds with both appliers paused"
	before=$(q -d "$src" -c "SELECT count(*) FROM pgbench_history")
	pgbench -n -c "$clients" -T "$seconds" "$src" >"$tmp/pgbench-$round.log" 2>&1
	want=$(q -d "$src" -c "SELECT count(*) FROM pgbench_history")
	backlog=$(q -d "$src" -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)
		FROM pg_replication_slots WHERE slot_name = 'native_catchup'")
	xacts=$((want - before))
	echo "   $xacts transactions, $((backlog / 1048576)) MB of WAL behind"

	# Who goes first reads the WAL from disk and finds the target's cache
	# cold: the order turns round every round.
	order=(native "${jobs_list[@]}")
	if ((round % 2 == 1)); then
		order=()
		for j in "${jobs_list[@]}"; do order=("$j" "${order[@]}"); done
		order+=(native)
	fi
	declare -A t_crane=()
	for who in "${order[@]}"; do
		q -d "host=$tmp port=$dst_port user=$run_user dbname=postgres" -c "CHECKPOINT"
		if [ "$who" = native ]; then
			time_native
			echo "   native ${t_native} s"
		else
			time_crane "$who"
			echo "   pgcrane --apply-jobs $who: ${t_crane[$who]} s"
		fi
	done
	crane_json=
	for j in "${jobs_list[@]}"; do
		crane_json="$crane_json${crane_json:+, }\"$j\": ${t_crane[$j]}"
	done

	printf '{"round": %d, "transactions": %d, "wal_bytes": %d, "pgcrane_seconds": {%s}, "native_seconds": %s}\n' \
		"$round" "$xacts" "$backlog" "$crane_json" "$t_native" >>"$results"
done

# The lag while pgbench writes at lag_tps and pgcrane follows.
lags=$tmp/lag.jsonl
: >"$lags"
for j in "${jobs_list[@]}"; do
	[ "$lag_tps" -gt 0 ] || break
	echo "== lag: pgbench -R $lag_tps -c $clients -T 20 while pgcrane follow --apply-jobs $j runs"
	"$pgcrane" follow --dir "$tmp/work_$j" --apply-jobs "$j" -q >>"$tmp/follow.log" 2>&1 &
	follow_pid=$!
	wait_caught_up "$(crane_dsn "$j")" "$(q -d "$src" -c "SELECT count(*) FROM pgbench_history")"
	PGOPTIONS="-c synchronous_commit=off" \
		pgbench -n -c "$clients" -R "$lag_tps" -T 20 "$src" >"$tmp/pgbench-lag-$j.log" 2>&1 &
	bench_pid=$!
	sleep 2
	for ((i = 0; i < 16; i++)); do
		"$pgcrane" status --dir "$tmp/work_$j" --json 2>/dev/null |
			python3 -c 'import json, sys; d = json.load(sys.stdin)
f = d.get("follow", d)
print(json.dumps({"jobs": sys.argv[1], "lag_seconds": f.get("lag_seconds"), "lag_bytes": f.get("lag_bytes")}))' "$j" >>"$lags" || true
		sleep 1
	done
	wait "$bench_pid" || true
	tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$tmp/pgbench-lag-$j.log" | head -1)
	echo "   pgbench ran at ${tps:-?} tps"
	printf '{"jobs": "%s", "tps": "%s"}\n' "$j" "${tps:-}" >>"$lags"
	kill -INT "$follow_pid"
	wait "$follow_pid" || true
	follow_pid=
done

mkdir -p "$repo/bench/results"
python3 - "$results" "$repo/bench/results" "$scale" "$seconds" "$clients" "$lags" "$lag_tps" <<'EOF'
import json, statistics, sys, datetime
path, outdir, scale, seconds, clients, lagpath, lag_tps = sys.argv[1:8]
rounds = [json.loads(l) for l in open(path)]
lagrows = [json.loads(l) for l in open(lagpath)]
jobs = list(rounds[0]["pgcrane_seconds"].keys())
for r in rounds:
    r["native_tps"] = round(r["transactions"] / r["native_seconds"], 1)
    r["pgcrane_tps"] = {j: round(r["transactions"] / s, 1) for j, s in r["pgcrane_seconds"].items()}
    r["time_ratio"] = {j: round(s / r["native_seconds"], 2) for j, s in r["pgcrane_seconds"].items()}
med = lambda f: statistics.median(f(r) for r in rounds)
native = med(lambda r: r["native_seconds"])
summary = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "workload": f"pgbench -s {scale} -c {clients} -T {seconds}",
    "rounds": rounds,
    "median_transactions": med(lambda r: r["transactions"]),
    "native_seconds": native, "native_tps": med(lambda r: r["native_tps"]),
    "lag": {j: {"pgbench_tps": next((r["tps"] for r in lagrows if r["jobs"] == j and "tps" in r), None),
                "lag_seconds_max": max((r["lag_seconds"] for r in lagrows if r["jobs"] == j and r.get("lag_seconds") is not None), default=None),
                "lag_bytes_max": max((r["lag_bytes"] for r in lagrows if r["jobs"] == j and r.get("lag_bytes") is not None), default=None),
                "samples": sum(1 for r in lagrows if r["jobs"] == j and "lag_seconds" in r)}
            for j in jobs} if int(lag_tps) > 0 else {},
    "apply_jobs": {j: {"pgcrane_seconds": med(lambda r: r["pgcrane_seconds"][j]),
                       "pgcrane_tps": med(lambda r: r["pgcrane_tps"][j]),
                       "time_ratio": med(lambda r: r["time_ratio"][j])} for j in jobs},
}
json.dump(summary, open(f"{outdir}/catchup.json", "w"), indent=2)
lines = [
    f"# Catch-up: pgcrane follow vs a native subscription ({summary['date']})", "",
    f"Backlog: {summary['workload']} with every applier paused, "
    f"{len(rounds)} round(s), medians.", "",
    "| applier | seconds | transactions/s | time ratio pgcrane/native |",
    "| --- | ---: | ---: | ---: |",
]
for j in jobs:
    a = summary["apply_jobs"][j]
    lines.append(f"| pgcrane follow --apply-jobs {j} | {a['pgcrane_seconds']:.2f} | "
                 f"{a['pgcrane_tps']:.1f} | {a['time_ratio']:.2f} |")
lines += [
    f"| native subscription | {native:.2f} | {summary['native_tps']:.1f} | |", "",
    "Time ratio: median of the rounds' ratios; below 1: pgcrane is faster.",
]
if summary["lag"]:
    lines += ["", f"Lag while pgbench -R {lag_tps} -c {clients} writes and pgcrane follows "
              "(pgcrane status --json, one sample a second):", "",
              "| --apply-jobs | pgbench tps | samples | max lag s | max lag bytes |",
              "| ---: | ---: | ---: | ---: | ---: |"]
    for j, l in summary["lag"].items():
        tps = f"{float(l['pgbench_tps']):.0f}" if l['pgbench_tps'] is not None else "?"
        lines.append(f"| {j} | {tps} | {l['samples']} | {l['lag_seconds_max']} | {l['lag_bytes_max']} |")
open(f"{outdir}/catchup.md", "w").write("\n".join(lines) + "\n")
print()
print("\n".join(lines))
EOF
