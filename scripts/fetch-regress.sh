#!/usr/bin/env bash
# PostgreSQL's regression suite (src/test/regress of Debian's postgresql-15
# source package), for "make check-regression".
#
#   scripts/fetch-regress.sh   print the suite's directory, fetched first
#                              unless it is already in the cache
#
# The cache is PGCRANE_REGRESS_CACHE, by default /var/cache/pgcrane/regress
# as root, else ~/.cache/pgcrane/regress.  The source package comes through
# apt-get source (deb-src entries are added by scripts/install-deps.sh
# --deb-src when apt has none); when the newest version listed cannot be
# downloaded (a security update whose source is not on the mirror), the
# next older one is taken: the suite of any 15.x builds the same database.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
pkg=postgresql-15
if [ "$(id -u)" -eq 0 ]; then
	default_cache=/var/cache/pgcrane/regress
else
	default_cache=${XDG_CACHE_HOME:-$HOME/.cache}/pgcrane/regress
fi
cache=${PGCRANE_REGRESS_CACHE:-$default_cache}
suite=$cache/src/test/regress

if [ -f "$suite/parallel_schedule" ] && [ -f "$suite/regress.c" ]; then
	echo "$suite"
	exit 0
fi

versions() {
	apt-cache showsrc "$pkg" 2>/dev/null | awk '/^Version:/ { print $2 }' |
		sort -rV -u
}
if [ -z "$(versions)" ]; then
	scripts/install-deps.sh --deb-src >&2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
got=
for v in $(versions); do
	if (cd "$work" && apt-get source --download-only -q "$pkg=$v") \
		>"$work/log" 2>&1; then
		got=$v
		break
	fi
	echo "fetch-regress: the source of $pkg $v could not be downloaded" >&2
	rm -f "$work"/*.dsc "$work"/*.tar.*
done
if [ -z "$got" ]; then
	echo "fetch-regress: could not download the source of $pkg" >&2
	cat "$work/log" >&2 || true
	exit 1
fi

orig=$(ls "$work"/*.orig.tar.*)
mkdir -p "$work/tree"
tar -xf "$orig" -C "$work/tree" --strip-components=1 --wildcards \
	'*/src/test/regress'
echo "$got" >"$work/tree/VERSION"
chmod -R a+rX "$work/tree"
mkdir -p "$(dirname "$cache")"
rm -rf "$cache"
mv "$work/tree" "$cache"
chmod a+rx "$cache"
echo "fetch-regress: $pkg $got's regression suite is in $suite" >&2
echo "$suite"
