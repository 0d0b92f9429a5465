# mariadb-throwaway.sh -- sourced by scripts/demo.sh and bench/*.sh: a
# throwaway MariaDB server with a ROW binlog, run by the postgres account.
#
#   mariadb_throwaway_start DIR PORT [extra my.cnf lines]
#       writes DIR/my.cnf (datadir DIR/data, binlog DIR/binlog, server-id 1,
#       binlog_format ROW, binlog_row_image FULL, binlog_row_metadata FULL),
#       initialises the data directory and starts mariadbd; returns once it
#       answers on 127.0.0.1:PORT as root without a password
#   mariadb_throwaway_stop DIR
#       stops it (its pid file), if running

mariadb_throwaway_start() {
  local dir=$1 port=$2 extra=${3:-}
  local run=()
  [ "$(id -u)" -eq 0 ] && run=(runuser -u postgres --) || run=(sudo -u postgres)
  "${run[@]}" mkdir -p "$dir/data"
  printf '%s\n' "[mysqld]" "datadir = $dir/data" "socket = $dir/mysqld.sock" "port = $port" \
    "bind-address = 127.0.0.1" "pid-file = $dir/mysqld.pid" "log-error = $dir/error.log" \
    "log-bin = $dir/binlog" "server-id = 1" "binlog-format = ROW" "binlog-row-image = FULL" \
    "binlog-row-metadata = FULL" "skip-name-resolve" "$extra" | "${run[@]}" tee "$dir/my.cnf" >/dev/null
  "${run[@]}" mariadb-install-db --defaults-file="$dir/my.cnf" --auth-root-authentication-method=normal \
    --skip-test-db >/dev/null 2>&1
  "${run[@]}" bash -c "mariadbd --defaults-file='$dir/my.cnf' > '$dir/stdout.log' 2>&1 &"
  local i
  for i in $(seq 1 300); do
    mariadb --no-defaults -h127.0.0.1 -P"$port" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "mariadbd did not start, see $dir/error.log" >&2
  return 1
}

mariadb_throwaway_stop() {
  local dir=$1
  if [ -f "$dir/mysqld.pid" ]; then
    kill "$(cat "$dir/mysqld.pid")" 2>/dev/null || true
    sleep 1
  fi
}
