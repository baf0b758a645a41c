#!/usr/bin/env bash
# bench/verify.sh [--size MB] [--rounds N] [--jobs N] [--split SIZE]
#                 [--baseline PGCRANE] [--keep]
#
# How long "pgcrane verify" takes against the clone it checks: on two
# throwaway PostgreSQL 15 servers (bench/servers.sh, the settings of
# bench/run.sh) and the benchmark database of bench/generate.sh, each
# round clones the source into a fresh target database with
# "pgcrane clone --jobs N", then times "pgcrane verify --jobs N" on that
# copy.  The ratio verify/clone is the median verify time over the median
# clone time; the rounds' own ratios are listed too.
#
# With --baseline, another pgcrane binary (an older build, say) verifies
# the same copy in the same round, before or after the measured one in
# turn (odd rounds the measured binary first), so that both meet a target
# in the same state; its median and ratio are reported beside.
#
# As in bench/run.sh, the target's WAL is warmed up before round 1,
# unmeasured, so that the first clone recycles WAL segments like the
# later ones instead of creating them.
#
# Options (environment defaults in brackets):
#   --size MB          size of the generated database [PGCRANE_BENCH_SIZE, 1000]
#   --rounds N         rounds; medians are reported [PGCRANE_BENCH_ROUNDS, 3]
#   --jobs N           --jobs of clone and verify [PGCRANE_BENCH_JOBS, CPUs]
#   --split SIZE       --split-tables-larger-than SIZE for verify (default:
#                      verify's own)
#   --baseline PATH    a second pgcrane whose verify is timed on the same copies
#   --keep             keep the servers' directory and logs (stopped)
#
# Servers: source on port 56021, target on 56022, Unix sockets only, in a
# temporary directory (TMPDIR, default /tmp), stopped and removed on exit;
# as root they run as PGCRANE_BENCH_USER (default "pgcrane").  pgcrane is
# ./pgcrane (built if missing) or PGCRANE=/path, copied so that a rebuild
# during the run changes nothing.  The results go to
# bench/results/YYYY-MM-DD-verify.md (UTC date of the run; with another
# --size than 1000, YYYY-MM-DD-verify-SIZEmb.md), replacing a file of the
# same day and size.
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$bench/.." && pwd)

size_mb=${PGCRANE_BENCH_SIZE:-1000}
rounds=${PGCRANE_BENCH_ROUNDS:-3}
jobs=${PGCRANE_BENCH_JOBS:-$(nproc)}
split=
baseline=
# shellcheck disable=SC2034 # read by bench/servers.sh
keep=0
while [ $# -gt 0 ]; do
	case $1 in
		--size) size_mb=$2; shift 2 ;;
		--rounds) rounds=$2; shift 2 ;;
		--jobs) jobs=$2; shift 2 ;;
		--split) split=$2; shift 2 ;;
		--baseline) baseline=$2; shift 2 ;;
		--keep) keep=1; shift ;; # read by bench/servers.sh
		-h | --help) sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "$0: unknown option \"$1\"" >&2; exit 2 ;;
	esac
done
for n in "$size_mb" "$rounds" "$jobs"; do
	if ! [[ $n =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
		echo "$0: \"$n\" is not a positive number" >&2
		exit 2
	fi
done
[ "$size_mb" -ge 50 ] || { echo "$0: --size must be 50 or more" >&2; exit 2; }

pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
export PATH="$pg_bindir:$PATH"
# shellcheck disable=SC2034 # read by bench/servers.sh
bench_user=${PGCRANE_BENCH_USER:-pgcrane}
src_port=56021
dst_port=56022
dbname=bench

# shellcheck source=bench/servers.sh
. "$bench/servers.sh"
servers_user
servers_dir pgcrane-verify-bench

pgcrane_src=${PGCRANE:-$repo/pgcrane}
if [ -z "${PGCRANE:-}" ] && [ ! -x "$pgcrane_src" ]; then
	make -C "$repo" -j"$(nproc)" >/dev/null
fi
cp "$pgcrane_src" "$tmp/pgcrane"
pgcrane=$tmp/pgcrane
if [ -n "$baseline" ]; then
	cp "$baseline" "$tmp/pgcrane-baseline"
	baseline=$tmp/pgcrane-baseline
fi

servers_start 'maintenance_work_mem = 256MB'
src="host=$tmp port=$src_port user=$run_user dbname=$dbname"
dst="host=$tmp port=$dst_port user=$run_user dbname=$dbname"
src_admin="host=$tmp port=$src_port user=$run_user dbname=postgres"
dst_admin="host=$tmp port=$dst_port user=$run_user dbname=postgres"

q() { psql -X -q -v ON_ERROR_STOP=1 -At "$@"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

echo "== generating the benchmark database (${size_mb} MB) on the source"
q -d "$src_admin" -c "CREATE DATABASE $dbname"
"$bench/generate.sh" "$size_mb" "$src"
db_mb=$(q -d "$src" -c "SELECT round(pg_database_size(current_database()) / 1048576.0, 1)")

warm_mb=$(awk -v m="$db_mb" 'BEGIN { printf "%d", m * 1.3 + 0.999 }')
echo "== warming up the target's WAL ($warm_mb MB)"
q -d "$dst_admin" -c "
	SELECT count(pg_logical_emit_message(false, 'pgcrane-bench-warm-up', repeat('x', 1048576)))
	FROM generate_series(1, $warm_mb)" >/dev/null
q -d "$dst_admin" -c "CHECKPOINT"

# Time one verify of the copy: prints seconds, leaves its JSON in $2.
run_verify() {
	local bin=$1 out=$2 t0 rc=0
	t0=$(now)
	"$bin" verify --source "$src" --target "$dst" --jobs "$jobs" \
		${split:+--split-tables-larger-than "$split"} --json >"$out" 2>"$out.err" || rc=$?
	echo "$(elapsed "$t0" "$(now)") $rc"
}

runs=$tmp/runs.tsv
: >"$runs"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $rounds round(s), --jobs $jobs"
for ((round = 1; round <= rounds; round++)); do
	w=$tmp/round-$round
	mkdir -p "$w"
	PGOPTIONS="-c client_min_messages=warning" q -d "$dst_admin" \
		-c "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname" -c "CHECKPOINT"
	q -d "$src_admin" -c "CHECKPOINT"

	t0=$(now)
	clone_rc=0
	"$pgcrane" clone --source "$src" --target "$dst" --jobs "$jobs" \
		--dir "$w/work" >"$w/clone.log" 2>&1 || clone_rc=$?
	clone_s=$(elapsed "$t0" "$(now)")
	if [ "$clone_rc" -ne 0 ]; then
		echo "  round $round: clone FAILED (exit $clone_rc)"
		tail -n 12 "$w/clone.log" | sed 's/^/    | /'
		exit 1
	fi

	base_s=- base_rc=-
	if [ -n "$baseline" ] && [ $((round % 2)) -eq 0 ]; then
		read -r base_s base_rc < <(run_verify "$baseline" "$w/baseline.json")
	fi
	read -r verify_s verify_rc < <(run_verify "$pgcrane" "$w/verify.json")
	if [ -n "$baseline" ] && [ $((round % 2)) -eq 1 ]; then
		read -r base_s base_rc < <(run_verify "$baseline" "$w/baseline.json")
	fi
	# The three slowest tables of the measured verify.
	slowest=$(python3 -c '
import json, sys
try:
    t = json.load(open(sys.argv[1]))["table_results"]
except (OSError, ValueError, KeyError):
    sys.exit(0)
t.sort(key=lambda r: -r["seconds"])
print(", ".join("%s %.2f s" % (r["table"], r["seconds"]) for r in t[:3]))' "$w/verify.json")
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$clone_s" "$verify_s" "$verify_rc" \
		"$base_s" "$base_rc" "$slowest" >>"$runs"
	line=$(printf '  round %d  clone %6ss  verify %6ss (exit %s)' "$round" "$clone_s" "$verify_s" "$verify_rc")
	[ -z "$baseline" ] || line+=$(printf '  baseline verify %6ss (exit %s)' "$base_s" "$base_rc")
	echo "$line"
	if [ "$verify_rc" != 0 ]; then
		tail -n 8 "$w/verify.json" "$w/verify.json.err" | sed 's/^/    | /'
	fi
done

mkdir -p "$bench/results"
result=$bench/results/$(date -u +%F)-verify.md
[ "$size_mb" -eq 1000 ] || result=${result%.md}-${size_mb}mb.md
git_commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
git_dirty=
if git -C "$repo" status --porcelain --untracked-files=no 2>/dev/null | grep -q .; then
	git_dirty=", uncommitted changes"
fi
pg_version=$(q -d "$src" -c "SHOW server_version")
B_DATE=$(date -u '+%F %H:%M UTC') B_COMMIT="$git_commit$git_dirty" B_PG=$pg_version \
B_SIZE=$size_mb B_DB_MB=$db_mb B_ROUNDS=$rounds B_JOBS=$jobs B_SPLIT=$split \
B_BASELINE=${baseline:+yes} B_CPUS=$(nproc) \
B_LOAD="$load_before, after: $(cut -d' ' -f1-3 /proc/loadavg)" \
	python3 - "$runs" "$result" <<'EOF'
import os, statistics, sys
e = os.environ
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
def med(i, ok):
    v = [float(r[i]) for r in rows if r[ok] == "0"]
    return statistics.median(v) if v else None
clone = statistics.median(float(r[1]) for r in rows)
verify = med(2, 3)
base = med(4, 5) if e["B_BASELINE"] else None
def ratio(v):
    return "%.2f" % (v / clone) if v is not None else "-"
def secs(v):
    return "%.2f s" % v if v is not None else "-"
out = ["# pgcrane verify against the clone it checks", "",
       "Measured %s by `bench/verify.sh --size %s --rounds %s --jobs %s%s%s`, commit %s, "
       "PostgreSQL %s, %s CPUs. Benchmark database (`bench/generate.sh`) of %s MB." % (
           e["B_DATE"], e["B_SIZE"], e["B_ROUNDS"], e["B_JOBS"],
           " --split " + e["B_SPLIT"] if e["B_SPLIT"] else "",
           " --baseline BIN" if e["B_BASELINE"] else "",
           e["B_COMMIT"], e["B_PG"], e["B_CPUS"], e["B_DB_MB"]), "",
       "| | median | verify/clone |", "|---|---:|---:|",
       "| `pgcrane clone --jobs %s` | %s | |" % (e["B_JOBS"], secs(clone)),
       "| `pgcrane verify --jobs %s` | %s | **%s** |" % (e["B_JOBS"], secs(verify), ratio(verify))]
if e["B_BASELINE"]:
    out.append("| baseline `pgcrane verify --jobs %s` | %s | %s |" % (e["B_JOBS"], secs(base), ratio(base)))
out += ["", "| round | clone s | verify s | exit | ratio |" +
        (" baseline s | exit | ratio |" if e["B_BASELINE"] else "") + " slowest tables of verify |",
        "|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if e["B_BASELINE"] else "") + "---|"]
for r in rows:
    line = "| %s | %s | %s | %s | %.2f |" % (r[0], r[1], r[2], r[3], float(r[2]) / float(r[1]))
    if e["B_BASELINE"]:
        line += " %s | %s | %.2f |" % (r[4], r[5], float(r[4]) / float(r[1]))
    out.append(line + " %s |" % r[6])
out += ["", "Exit 0 means verify found the copy equal. Times are wall clock, each verify "
        "on the copy the round's clone has just made. Load average (1, 5, 15 min) "
        "before the rounds: %s; other work on the machine slows both alike "
        "only roughly." % e["B_LOAD"]]
open(sys.argv[2], "w").write("\n".join(out) + "\n")
print("\n".join(out[4:9 if e["B_BASELINE"] else 8]))
print("written: " + sys.argv[2])
EOF
