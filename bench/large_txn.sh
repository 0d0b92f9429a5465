#!/usr/bin/env bash
# large_txn.sh -- one source transaction of about 1 GB through a job, with
# the job worker's private memory sampled while it applies.
#
#   bash bench/large_txn.sh [megabytes]       (default 1024; run as root or with sudo)
#
# Two throwaway clusters in /tmp/pg_tributary_bigtxn.  A full+cdc job syncs
# an empty table; the job is stopped; one source transaction inserts
# rows of about 1 kB until it holds the given size; the job is started and
# timed until the target has every row.  Prints the transaction's size,
# the apply rate, and the worker's RssAnon (private resident memory)
# before and at its highest while applying, then compares digests.
set -euo pipefail

MB=${1:-1024}
here=$(cd "$(dirname "$0")/.." && pwd)
BIN=/usr/lib/postgresql/15/bin
DIR=/tmp/pg_tributary_bigtxn
SRC=55441; TRB=55442
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
q() { local port=$1; shift; as_pg $BIN/psql -X -q -At -h $DIR -p "$port" -d postgres "$@"; }
now() { date +%s.%N; }
wait_sql() { until [ "$(q "$1" -c "$2")" = "t" ]; do sleep 0.2; done; }
rss() { awk '/^RssAnon/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

cleanup() {
  for c in source trib; do as_pg $BIN/pg_ctl -D $DIR/$c -m immediate stop >/dev/null 2>&1 || true; done
  $SUDO rm -rf $DIR
}
trap cleanup EXIT

(cd "$here" && make -s -j2 >/dev/null 2>&1 && $SUDO make -s install >/dev/null)
cleanup
$SUDO mkdir -p $DIR && $SUDO chown postgres $DIR
for c in source trib; do as_pg $BIN/initdb -D $DIR/$c -A trust >/dev/null; done
common="unix_socket_directories = '$DIR'
listen_addresses = ''
shared_buffers = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min
wal_level = logical
output_plugin_libraries = 'pgoutput, test_decoding, tributary_decoder'"
echo "$common
port = $SRC" | as_pg tee -a $DIR/source/postgresql.conf >/dev/null
echo "$common
port = $TRB
shared_preload_libraries = 'pg_tributary'" | as_pg tee -a $DIR/trib/postgresql.conf >/dev/null
for c in source trib; do as_pg $BIN/pg_ctl -D $DIR/$c -l $DIR/$c.log -w start >/dev/null; done

TABLE="(id bigint PRIMARY KEY, n int, payload text)"
q $SRC -c "CREATE TABLE public.big $TABLE; ALTER TABLE public.big REPLICA IDENTITY FULL;"
q $TRB -c "CREATE EXTENSION pg_tributary;
           SELECT tributary.create_source('src', 'postgresql', 'host=$DIR port=$SRC dbname=postgres');
           SELECT tributary.create_job('big', 'src', 'full+cdc');
           SELECT tributary.add_table('big', 'public.big');
           SELECT tributary.start_job('big');" >/dev/null 2>&1
wait_sql $TRB "SELECT phase = 'streaming' FROM tributary.jobs WHERE job_name = 'big'"
q $TRB -c "SELECT tributary.stop_job('big')" >/dev/null
wait_sql $TRB "SELECT state = 'stopped' FROM tributary.jobs WHERE job_name = 'big'"

# rows of ~1 kB (values under 2 kB stay inline and uncompressed)
ROWS=$((MB * 1024))
lsn0=$(q $SRC -c "SELECT pg_current_wal_insert_lsn()")
q $SRC -c "INSERT INTO public.big SELECT g, g % 1000, repeat(md5(g::text), 31) FROM generate_series(1, $ROWS) g"
size=$(q $SRC -c "SELECT pg_size_pretty(sum(pg_column_size(b.*))) FROM public.big b")
wal=$(q $SRC -c "SELECT pg_size_pretty(pg_current_wal_insert_lsn() - '$lsn0'::pg_lsn)")
echo "one source transaction: $ROWS rows, $size of row data, $wal of WAL"

t0=$(now)
q $TRB -c "SELECT tributary.start_job('big')" >/dev/null
pid=""
until [ -n "$pid" ]; do pid=$(q $TRB -c "SELECT pid FROM tributary.jobs WHERE job_name = 'big' AND pid IS NOT NULL"); done
before=$(rss "$pid"); peak=$before
until [ "$(q $TRB -c "SELECT count(*) = $ROWS FROM public.big")" = "t" ]; do
  r=$(rss "$pid"); [ "$r" -gt "$peak" ] && peak=$r
  sleep 0.2
done
t1=$(now)
awk -v n="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "applied in %.1f s (%.0f rows/s, decoding on the source included)\n", b - a, n / (b - a) }'
echo "job worker RssAnon: $before kB at start, $peak kB at most while applying"
d1=$(q $SRC -c "SELECT md5(string_agg(md5(b::text), '' ORDER BY id)) FROM public.big b")
d2=$(q $TRB -c "SELECT md5(string_agg(md5(b::text), '' ORDER BY id)) FROM public.big b")
[ "$d1" = "$d2" ] && echo "source and target digests are equal" || { echo "DIGESTS DIFFER"; exit 1; }
