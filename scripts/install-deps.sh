#!/usr/bin/env bash
# install-deps.sh -- install every Debian package pg_tributary's build and
# tests need.  Idempotent: packages already present are left alone.
set -euo pipefail

PKGS=(
  build-essential
  postgresql-15
  postgresql-server-dev-15
  postgresql-contrib
  libpq-dev
  libipc-run-perl
  default-libmysqlclient-dev
  mariadb-server
  mariadb-client
  mariadb-test                # its std_data binlogs are t/029's fixtures
  libzstd-dev
  zlib1g-dev
  zstd
  clang
  libclang-rt-14-dev
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # policy-rc.d keeps the packages from starting their own server instances
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
