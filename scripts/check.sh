#!/usr/bin/env bash
# "make check" on any machine, fresh or not:
#   1. installs the Debian packages that are missing (scripts/install-deps.sh)
#   2. builds pgcrane and the unit tests
#   3. runs the unit tests (make unit-check)
#   4. runs the integration tests (make tap-check) against real servers
#
# PostgreSQL's initdb refuses to run as root, so when this runs as root the
# integration tests run as an unprivileged user (PGCRANE_TEST_USER, default
# "pgcrane", created if needed) in a copy of the tree that user owns, in a
# new directory /tmp/pgcrane-check.XXXXXX (or PGCRANE_CHECK_DIR).  The copy
# is removed when the tests pass and kept, with its logs, when they fail.
#
# TESTS and PROVE_FLAGS are passed on to make tap-check, e.g.
#   TESTS=tests/t/003_clone_edge_cases.pl make check
#
# Exits non-zero when anything fails.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$(pwd)
test_user=${PGCRANE_TEST_USER:-pgcrane}
check_dir=${PGCRANE_CHECK_DIR:-}

# Variables for make tap-check, passed only when set.
tap_vars=()
if [ -n "${TESTS:-}" ]; then
	tap_vars+=("TESTS=$TESTS")
fi
if [ -n "${PROVE_FLAGS:-}" ]; then
	tap_vars+=("PROVE_FLAGS=$PROVE_FLAGS")
fi

# make's own jobserver settings do not carry over into this script.
unset MAKEFLAGS MFLAGS MAKELEVEL

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
if ! scripts/install-deps.sh --check; then
	scripts/install-deps.sh
fi

step "build"
make -j2 pgcrane
unit_bins=()
for src in tests/unit/test_*.c; do
	if [ -e "$src" ]; then
		unit_bins+=("build/tests/$(basename "$src" .c)")
	fi
done
if [ "${#unit_bins[@]}" -ne 0 ]; then
	make -j2 "${unit_bins[@]}"
fi

failed=()
unit_output=$(mktemp)
tap_output=$(mktemp)
trap 'rm -f "$unit_output" "$tap_output"' EXIT

step "unit tests"
if ! make unit-check 2>&1 | tee "$unit_output"; then
	failed+=("unit tests")
fi

# Print the end of the log of every test file that failed.
show_failed_logs() {
	local dir=$1 output=$2 t name log
	# prove's summary names each failed file: "tests/t/x.pl (Wstat: ...".
	grep -oE '^tests/[a-z]+/[^ ]+\.pl +\(Wstat' "$output" | awk '{print $1}' |
	sort -u | while read -r t; do
		name=$(basename "$t" .pl)
		log="$dir/tmp_check/log/regress_log_$name"
		[ -f "$log" ] || continue
		printf '\n== last 80 lines of %s\n' "$log"
		tail -n 80 "$log"
	done
}

step "integration tests"
if [ "$(id -u)" -ne 0 ]; then
	tap_dir=$repo
	rm -rf "$tap_dir/tmp_check"
	if ! make tap-check "${tap_vars[@]}" 2>&1 | tee "$tap_output"; then
		failed+=("integration tests")
	fi
else
	if ! id -u "$test_user" >/dev/null 2>&1; then
		echo "creating user \"$test_user\" to run the servers (initdb refuses root)"
		useradd -m -s /bin/bash "$test_user"
	fi
	# Its home holds caches (servers of other major versions).
	test_home=$(getent passwd "$test_user" | cut -d: -f6)
	if [ -n "$test_home" ] && [ ! -d "$test_home" ]; then
		mkdir -p "$test_home"
		chown "$test_user:" "$test_home"
	fi
	if [ -n "$check_dir" ]; then
		tap_dir=$check_dir
		rm -rf "$tap_dir"
		mkdir -p "$tap_dir"
	else
		tap_dir=$(mktemp -d /tmp/pgcrane-check.XXXXXX)
	fi
	echo "running as user \"$test_user\" in $tap_dir"
	tar -C "$repo" --exclude=./.git --exclude=./tmp_check --exclude=./demo \
		--exclude=./pgcrane-work -cf - . | tar -C "$tap_dir" -xf -
	chown -R "$test_user:" "$tap_dir"
	chmod 755 "$tap_dir"
	if ! runuser -u "$test_user" -- \
		make -C "$tap_dir" --no-print-directory tap-check "${tap_vars[@]}" \
		2>&1 | tee "$tap_output"; then
		failed+=("integration tests")
	fi
fi
if [[ " ${failed[*]} " == *" integration tests "* ]]; then
	show_failed_logs "$tap_dir" "$tap_output" || true
	echo
	echo "logs of the integration tests: $tap_dir/tmp_check/log"
elif [ "$tap_dir" != "$repo" ] && [ -z "$check_dir" ]; then
	rm -rf "$tap_dir"
fi

# Count the tests: cmocka's "[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)" lines; prove's "Files=F, Tests=N" and, for each
# failed file, "(Wstat: ... Tests: N Failed: K)" (a file that failed
# without a failed test, e.g. one that died, counts as one failure).
counts=$(
	{
		awk '/^\[  PASSED  \] [0-9]+ test/ { p += $4 }
		     /^\[  FAILED  \] [0-9]+ test/ { f += $4 }
		     END { print p + 0, f + 0 }' "$unit_output"
		awk '/^Files=[0-9]+, Tests=[0-9]+/ { sub(/.*Tests=/, ""); sub(/,.*/, ""); n = $0 }
		     /\(Wstat: / { k = 1; if (match($0, /Failed: [0-9]+/)) k = substr($0, RSTART + 8, RLENGTH - 8); if (k < 1) k = 1; f += k }
		     END { print (n - f < 0 ? 0 : n - f), f + 0 }' "$tap_output"
	} | awk '{ p += $1; f += $2 } END { print p, f }'
)
read -r n_passed n_failed <<<"$counts"
if [ "${#failed[@]}" -ne 0 ] && [ "$n_failed" -eq 0 ]; then
	n_failed=1
fi

echo
if [ "${#failed[@]}" -ne 0 ]; then
	echo "check: FAILED: ${failed[*]}"
fi
echo "check: $n_passed passed, $n_failed failed"
[ "${#failed[@]}" -eq 0 ]
