#!/usr/bin/env bash
# mysql_vs_peers.sh -- pg_tributary's MySQL/MariaDB path against pgloader,
# mysql_fdw and local COPY, measured in one run on the same servers.
#
#   bash bench/mysql_vs_peers.sh [rows]      (default 1000000; run as root or with sudo)
#
# A throwaway MariaDB (ROW binlog, binlog_row_metadata = FULL) and a
# throwaway target cluster in /tmp/pg_tributary_mbench.  Data: rows of
# (bigint, int, varchar(40), datetime(6), decimal(12,2)).  One side at a
# time:
#   1. snapshot of the table: pg_tributary 'full' job until finished;
#      pgloader (LOAD DATABASE, data only into an existing table);
#      mysql_fdw (INSERT INTO local SELECT * FROM foreign table);
#      local COPY of the same rows from a file, for scale
#   2. apply-only catch-up from the binlog: a full+cdc job copies the
#      table and catches up, is stopped, `rows` inserts are made in 10
#      transactions, the job is started and timed until wait_for_sync (it
#      applies strictly, past its snapshot, as a native subscriber does);
#      then rows/5 single-row updates the same way
# Prints rows/s and the ratios.  Installs pgloader and mysql_fdw
# (postgresql-15-mysql-fdw) with apt when they are missing.
set -euo pipefail

ROWS=${1:-1000000}
UPDATES=$((ROWS / 5))
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/mariadb-throwaway.sh"
BIN=/usr/lib/postgresql/15/bin
DIR=/tmp/pg_tributary_mbench
MYPORT=55441; PGPORT=55442
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
q() { as_pg $BIN/psql -X -q -At -h $DIR -p $PGPORT -d postgres "$@"; }
my() { mariadb --no-defaults -h127.0.0.1 -P$MYPORT -uroot -N -B "$@"; }
now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
ratio() { awk -v x="$1" -v y="$2" 'BEGIN { printf "%.2f", x / y }'; }
# cpu_us: CPU time (user + system, microseconds) a job's worker has used since it started
cpu_us() {
  local pid; pid=$(q -c "SELECT pid FROM tributary.jobs WHERE job_name = '$1'")
  awk -v hz="$(getconf CLK_TCK)" '{ printf "%.0f", ($14 + $15) * 1000000 / hz }' /proc/$pid/stat
}

cleanup() {
  as_pg $BIN/pg_ctl -D $DIR/target -m immediate stop >/dev/null 2>&1 || true
  mariadb_throwaway_stop $DIR/maria
  $SUDO rm -rf $DIR
}
trap cleanup EXIT

for p in pgloader postgresql-15-mysql-fdw; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q 'install ok installed' ||
    { $SUDO apt-get install -y -q --no-install-recommends $p >/dev/null; }
done
(cd "$here" && make -s -j2 >/dev/null 2>&1 && $SUDO make -s install >/dev/null)
cleanup
$SUDO mkdir -p $DIR && $SUDO chown -R postgres $DIR

# MariaDB
mariadb_throwaway_start $DIR/maria $MYPORT "innodb-buffer-pool-size = 2G
innodb-flush-log-at-trx-commit = 2
sync-binlog = 0
max-binlog-size = 1G"

# target
as_pg $BIN/initdb -D $DIR/target -A trust >/dev/null
cat <<EOF | as_pg tee -a $DIR/target/postgresql.conf >/dev/null
unix_socket_directories = '$DIR'
listen_addresses = '127.0.0.1'
port = $PGPORT
shared_buffers = 1GB
max_wal_size = 8GB
checkpoint_timeout = 30min
shared_preload_libraries = 'pg_tributary'
EOF
as_pg $BIN/pg_ctl -D $DIR/target -l $DIR/target.log -w start >/dev/null
q -c "CREATE EXTENSION pg_tributary; CREATE EXTENSION mysql_fdw;"

echo "== $ROWS rows of (bigint, int, varchar(40), datetime(6), decimal(12,2)); MariaDB $(my -e 'SELECT VERSION()')"
my -e "CREATE DATABASE shop; USE shop; CREATE TABLE shop.t (id BIGINT PRIMARY KEY, n INT, s VARCHAR(40), ts DATETIME(6), amount DECIMAL(12,2));
  INSERT INTO shop.t SELECT seq, seq % 1000, MD5(seq), '2024-01-01' + INTERVAL seq SECOND, seq / 100 FROM seq_1_to_$ROWS;"
CONN="host=127.0.0.1 port=$MYPORT user=root dbname=shop"
q -c "SELECT tributary.create_source('maria', 'mysql', '$CONN')" >/dev/null

# 1. snapshot
q -c "SELECT tributary.create_job('snap', 'maria', 'full', '{\"target_schema\": \"snap\"}'); SELECT tributary.add_table('snap', 'shop.t');" >/dev/null 2>&1
t0=$(now); q -c "SELECT tributary.start_job('snap')" >/dev/null
q -c "SELECT tributary.wait_for_sync('snap', '30 min')" >/dev/null; t1=$(now)
TRIB=$(rate $ROWS $t0 $t1)
[ "$(q -c 'SELECT count(*) FROM snap.t')" = "$ROWS" ] || { echo "pg_tributary copied the wrong row count"; exit 1; }

q -c "CREATE SCHEMA pgl; CREATE TABLE pgl.t (id bigint PRIMARY KEY, n integer, s varchar(40), ts timestamp(6), amount numeric(12,2));"
cat > $DIR/load.pgl <<EOF
LOAD DATABASE FROM mysql://root@127.0.0.1:$MYPORT/shop
  INTO postgresql://postgres@127.0.0.1:$PGPORT/postgres
  WITH data only, truncate, workers = 2, concurrency = 1
  SET search_path TO 'pgl'
  ALTER SCHEMA 'shop' RENAME TO 'pgl';
EOF
chmod a+r $DIR/load.pgl
t0=$(now); as_pg pgloader --quiet $DIR/load.pgl > $DIR/pgloader.log 2>&1 || { echo "pgloader failed:"; tail -20 $DIR/pgloader.log; exit 1; }; t1=$(now)
PGL=$(rate $ROWS $t0 $t1)
[ "$(q -c 'SELECT count(*) FROM pgl.t')" = "$ROWS" ] || { echo "pgloader loaded $(q -c 'SELECT count(*) FROM pgl.t') rows"; tail -20 $DIR/pgloader.log; exit 1; }

q -c "CREATE SERVER maria FOREIGN DATA WRAPPER mysql_fdw OPTIONS (host '127.0.0.1', port '$MYPORT');
  CREATE USER MAPPING FOR postgres SERVER maria OPTIONS (username 'root');
  CREATE SCHEMA fdw; CREATE FOREIGN TABLE fdw.remote (id bigint, n integer, s varchar(40), ts timestamp(6), amount numeric(12,2))
    SERVER maria OPTIONS (dbname 'shop', table_name 't');
  CREATE TABLE fdw.t (id bigint PRIMARY KEY, n integer, s varchar(40), ts timestamp(6), amount numeric(12,2));"
t0=$(now); q -c "INSERT INTO fdw.t SELECT * FROM fdw.remote"; t1=$(now)
FDW=$(rate $ROWS $t0 $t1)

q -c "COPY snap.t TO '$DIR/rows.copy'; CREATE TABLE public.local_copy (LIKE snap.t INCLUDING ALL);"
t0=$(now); q -c "COPY public.local_copy FROM '$DIR/rows.copy'"; t1=$(now)
COPYR=$(rate $ROWS $t0 $t1)

echo
echo "snapshot, rows/s:"
printf "  %-28s %10s\n" "pg_tributary full job" "$TRIB" "pgloader" "$PGL" "mysql_fdw INSERT ... SELECT" "$FDW" "local COPY (same rows)" "$COPYR"
echo "  ratios: pg_tributary/pgloader $(ratio $TRIB $PGL) (target >= 2), pg_tributary/mysql_fdw $(ratio $TRIB $FDW), pg_tributary/local COPY $(ratio $TRIB $COPYR)"

# 2. apply-only catch-up from the binlog
q -c "SELECT tributary.create_job('cdc', 'maria', 'full+cdc', '{\"target_schema\": \"cdc\"}');
  SELECT tributary.add_table('cdc', 'shop.t');" >/dev/null 2>&1
q -c "SELECT tributary.start_job('cdc')" >/dev/null
q -c "SELECT tributary.wait_for_sync('cdc', '5 min')" >/dev/null
q -c "SELECT tributary.stop_job('cdc')" >/dev/null
until [ "$(q -c "SELECT state FROM tributary.jobs WHERE job_name = 'cdc'")" = "stopped" ]; do sleep 0.1; done
per=$((ROWS / 10))
for i in $(seq 0 9); do
  my -e "USE shop; INSERT INTO shop.t SELECT 10000000 + $i * $per + seq, seq % 1000, MD5(seq), '2024-06-01' + INTERVAL seq SECOND, seq / 100 FROM seq_1_to_$per"
done
t0=$(now); q -c "SELECT tributary.start_job('cdc')" >/dev/null
q -c "SELECT tributary.wait_for_sync('cdc', '30 min')" >/dev/null; t1=$(now)
INS=$(rate $ROWS $t0 $t1)
INS_CPU=$(cpu_us cdc)
[ "$(q -c 'SELECT count(*) FROM cdc.t')" = "$((ROWS * 2))" ] || { echo "catch-up has the wrong row count"; exit 1; }

q -c "SELECT tributary.stop_job('cdc')" >/dev/null
until [ "$(q -c "SELECT state FROM tributary.jobs WHERE job_name = 'cdc'")" = "stopped" ]; do sleep 0.1; done
my -e "DELIMITER //
CREATE PROCEDURE shop.upd(k INT) BEGIN DECLARE i INT DEFAULT 0; WHILE i < k DO UPDATE shop.t SET n = n + 1 WHERE id = 1 + (i * 7919) % $ROWS; SET i = i + 1; END WHILE; END //
DELIMITER ;
SET autocommit = 1; CALL shop.upd($UPDATES);"
t0=$(now); q -c "SELECT tributary.start_job('cdc')" >/dev/null
q -c "SELECT tributary.wait_for_sync('cdc', '30 min')" >/dev/null; t1=$(now)
UPD=$(rate $UPDATES $t0 $t1)
UPD_CPU=$(cpu_us cdc)
SRC_SUM=$(my -e "SELECT SUM(n) FROM shop.t")
DST_SUM=$(q -c "SELECT sum(n) FROM cdc.t")
[ "$SRC_SUM" = "$DST_SUM" ] || { echo "after the updates: source sum $SRC_SUM, target $DST_SUM"; exit 1; }

echo
echo "apply-only catch-up from the binlog:"
printf "  %-40s %10s rows/s   (%.2f x local COPY, target >= 0.5; worker CPU %.2f us/row)\n" "$ROWS inserts in 10 transactions" "$INS" "$(ratio $INS $COPYR)" "$(ratio $INS_CPU $ROWS)"
printf "  %-40s %10s rows/s   (worker CPU %.2f us/row)\n" "$UPDATES single-row update transactions" "$UPD" "$(ratio $UPD_CPU $UPDATES)"
echo "  checks: row counts equal after every step; sum(n) equal after the updates ($SRC_SUM)"
