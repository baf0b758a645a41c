#!/usr/bin/env bash
# Install the Debian packages that building and testing pgcrane need.
#
#   scripts/install-deps.sh          install what is missing
#   scripts/install-deps.sh --check  exit 0 if nothing is missing, 1 if not
#   scripts/install-deps.sh --deb-src
#                                    make Debian's source packages reachable
#                                    (deb-src entries for the Debian mirrors
#                                    apt already uses), for
#                                    scripts/fetch-regress.sh
#
# Does nothing (and needs no privileges) when every package is present.
# Otherwise runs apt-get update once and installs the missing packages, as
# root or through sudo.
set -euo pipefail

PACKAGES=(
	build-essential          # cc, make
	perl                     # prove, JSON::PP
	pkg-config
	libpq-dev                # libpq
	libsqlite3-dev           # the state file
	libcmocka-dev            # unit tests
	postgresql-15            # servers for the integration tests and the demo
	postgresql-client-15     # psql, pg_dump
	postgresql-server-dev-15 # PostgreSQL::Test::Cluster and pg_regress
	libipc-run-perl          # used by PostgreSQL::Test::Cluster
	sqlite3                  # inspecting state.db
	pgcopydb                 # the reference tool the benchmarks compare with
	bzip2                    # scripts/fetch-regress.sh: the source tarball
)

# Commands that may come from elsewhere than Debian's package of the same
# name (npm ships with the machine's Node.js): the package is installed
# only when the command is missing.
declare -A COMMANDS=(
	[npm]=npm                # scripts/fetch-postgres.sh: servers of other
	                         # major versions for the cross-version tests
)

names=("${PACKAGES[@]}")

if [ "$(id -u)" -eq 0 ]; then
	as_root=()
elif command -v sudo >/dev/null 2>&1; then
	as_root=(sudo)
else
	as_root=(false)
fi

# deb-src entries mirroring the "deb" ones of Debian's own list (deb822
# debian.sources, or the one-line sources.list), written once.
add_deb_src() {
	local list=/etc/apt/sources.list.d/pgcrane-deb-src
	if [ -e "$list.sources" ] || [ -e "$list.list" ]; then
		return 0
	fi
	if [ -f /etc/apt/sources.list.d/debian.sources ]; then
		sed -e 's/^Types:.*/Types: deb-src/' \
			/etc/apt/sources.list.d/debian.sources |
			"${as_root[@]}" tee "$list.sources" >/dev/null
	elif [ -f /etc/apt/sources.list ] &&
		grep -q '^deb .*debian' /etc/apt/sources.list; then
		grep '^deb .*debian' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
			"${as_root[@]}" tee "$list.list" >/dev/null
	else
		echo "install-deps: no Debian mirror in apt's sources to add deb-src for" >&2
		return 1
	fi
	echo "install-deps: added deb-src entries ($list.*)"
	"${as_root[@]}" apt-get update -q
}

if [ "${1:-}" = "--deb-src" ]; then
	add_deb_src
	exit
fi

missing() {
	local p c status
	for p in "${names[@]}"; do
		status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
		if [ "$status" != "installed" ]; then
			echo "$p"
		fi
	done
	for c in "${!COMMANDS[@]}"; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "${COMMANDS[$c]}"
		fi
	done
}

mapfile -t todo < <(missing)

if [ "${1:-}" = "--check" ]; then
	if [ "${#todo[@]}" -eq 0 ]; then
		exit 0
	fi
	echo "missing packages: ${todo[*]}" >&2
	exit 1
fi

if [ "${#todo[@]}" -eq 0 ]; then
	echo "install-deps: all ${#names[@]} packages and ${#COMMANDS[@]} commands are installed"
	exit 0
fi

if [ "${as_root[*]}" = false ]; then
	echo "install-deps: missing packages: ${todo[*]}" >&2
	echo "install-deps: not root and sudo is not available; install them as root" >&2
	exit 1
fi

echo "install-deps: installing ${todo[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
	apt-get install -y -q --no-install-recommends "${todo[@]}"

mapfile -t todo < <(missing)
if [ "${#todo[@]}" -ne 0 ]; then
	echo "install-deps: still missing after apt-get install: ${todo[*]}" >&2
	exit 1
fi
echo "install-deps: done"
