#!/bin/sh
#
# capture.sh - record real pgoutput streams for tests/unit/test_pgoutput.c
#
# Starts a throwaway PostgreSQL 15 server (wal_level=logical,
# logical_decoding_work_mem=64kB), creates three slots, runs a fixed
# workload and records what pg_recvlogical receives on each slot:
#
#   v1.bin  proto_version=1, publication pub_small, messages=true
#   v2.bin  proto_version=2, publication pub_all, streaming=on, messages=true
#   v3.bin  proto_version=3, publication pub_all, streaming=on,
#           two_phase=on, binary=true, messages=true
#
# pg_recvlogical writes each message's bytes followed by one newline.
# The files are then turned into C arrays in capture.h.
#
# Usage: capture.sh [OUTDIR]   (default: this script's directory)
# Run it as an unprivileged user: initdb refuses to run as root.
#
set -eu

BIN=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE}
PORT=${PGPORT_CAPTURE:-54399}
WORK=$(mktemp -d)
PGDATA="$WORK/data"

cleanup()
{
	"$BIN/pg_ctl" -D "$PGDATA" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN/initdb" -D "$PGDATA" -A trust -U postgres --no-sync >/dev/null
cat >>"$PGDATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$WORK'
port = $PORT
wal_level = logical
max_replication_slots = 10
max_wal_senders = 10
max_prepared_transactions = 10
logical_decoding_work_mem = 64kB
fsync = off
EOF
"$BIN/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w start >/dev/null

export PGHOST="$WORK" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres

sql()
{
	"$BIN/psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

sql >/dev/null <<'EOF'
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE items (id int PRIMARY KEY, name text, note text, m mood);
ALTER TABLE items ALTER note SET STORAGE EXTERNAL;
CREATE TABLE items_full (id int, v text);
ALTER TABLE items_full REPLICA IDENTITY FULL;
CREATE TABLE big (id int PRIMARY KEY, pad text);
CREATE PUBLICATION pub_small FOR TABLE items, items_full;
CREATE PUBLICATION pub_all FOR TABLE items, items_full, big (id);
SELECT pg_replication_origin_create('upstream');
EOF


"$BIN/pg_recvlogical" -d postgres -S s1 -P pgoutput --create-slot
"$BIN/pg_recvlogical" -d postgres -S s2 -P pgoutput --create-slot
"$BIN/pg_recvlogical" -d postgres -S s3 -P pgoutput --create-slot --two-phase

sql >/dev/null <<'EOF'
INSERT INTO items VALUES (1, 'one', NULL, 'happy'),
	(2, 'two', repeat('x', 2100), 'ok');
BEGIN;
UPDATE items SET name = 'uno' WHERE id = 1;
UPDATE items SET name = 'dos' WHERE id = 2;
UPDATE items SET id = 3 WHERE id = 1;
COMMIT;
BEGIN;
INSERT INTO items_full VALUES (1, 'a');
UPDATE items_full SET v = 'b';
DELETE FROM items_full;
COMMIT;
DELETE FROM items WHERE id = 3;
TRUNCATE items, items_full RESTART IDENTITY CASCADE;
SELECT pg_logical_emit_message(true, 'pgcrane', 'hello');
SELECT pg_logical_emit_message(false, 'pgcrane', 'bye');
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/1234ABCD', now());
INSERT INTO items VALUES (10, 'from origin', NULL, 'sad');
COMMIT;
SELECT pg_replication_origin_session_reset();
INSERT INTO big SELECT g, repeat('p', 1500) FROM generate_series(1, 80) g;
BEGIN;
INSERT INTO big SELECT g, repeat('q', 1500) FROM generate_series(101, 180) g;
ROLLBACK;
BEGIN;
INSERT INTO big SELECT g, repeat('r', 1500) FROM generate_series(201, 250) g;
SAVEPOINT s;
INSERT INTO big SELECT g, repeat('s', 1500) FROM generate_series(301, 350) g;
ROLLBACK TO s;
INSERT INTO big VALUES (400, 'after');
COMMIT;
BEGIN;
INSERT INTO items VALUES (20, 'prepared', NULL, 'ok');
PREPARE TRANSACTION 'gx1';
COMMIT PREPARED 'gx1';
BEGIN;
INSERT INTO items VALUES (21, 'rolled back', NULL, 'ok');
PREPARE TRANSACTION 'gx2';
ROLLBACK PREPARED 'gx2';
BEGIN;
INSERT INTO big SELECT g, repeat('t', 1500) FROM generate_series(501, 580) g;
PREPARE TRANSACTION 'gx3';
COMMIT PREPARED 'gx3';
EOF

END=$(sql -At -c 'SELECT pg_current_wal_lsn()')

recv()
{
	slot=$1
	file=$2
	shift 2
	"$BIN/pg_recvlogical" -d postgres -S "$slot" --start --no-loop -E "$END" \
		-f "$WORK/$file" "$@"
}

recv s1 v1.bin -o proto_version=1 -o publication_names=pub_small \
	-o messages=true
recv s2 v2.bin -o proto_version=2 -o publication_names=pub_all \
	-o messages=true -o streaming=on
recv s3 v3.bin -o proto_version=3 -o publication_names=pub_all \
	-o messages=true -o streaming=on -o two_phase=on -o binary=true

{
	echo "/*"
	echo " * capture.h"
	echo " *		pgoutput streams recorded by capture.sh from PostgreSQL 15."
	echo " *"
	echo " * Each array is pg_recvlogical's output file: every message's bytes"
	echo " * followed by one newline.  Generated; do not edit."
	echo " */"
	for f in v1 v2 v3; do
		echo
		echo "static const unsigned char capture_$f[] = {"
		od -An -v -tx1 "$WORK/$f.bin" | sed -e 's/ *$//' \
			-e 's/^ */\t0x/' -e 's/ \+/, 0x/g' -e 's/$/,/'
		echo "};"
	done
} >"$OUT/capture.h"

echo "wrote $OUT/capture.h"
