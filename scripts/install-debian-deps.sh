#!/usr/bin/env bash
# Install the Debian packages Kura needs, only those missing; silent when nothing is.
# Checked by what Kura uses (a command, a file), not by package name, so a machine that has them
# another way is left alone.
set -euo pipefail

need=()
have() { command -v "$1" >/dev/null 2>&1; }
have jq || need+=(jq)
have openssl || need+=(openssl)
have rsync || need+=(rsync)
have psql || need+=(postgresql-client)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need+=(postgresql)
have redis-server || need+=(redis-server)
have redis-cli || need+=(redis-tools)
[ -x /usr/sbin/pgbouncer ] || have pgbouncer || need+=(pgbouncer)  # seed 004's pooler, in its e2e test
[ -x /usr/bin/aws ] || need+=(awscli)  # AWS CLI v2 (Debian's): `aws logs tail`, which v1 lacks
[ -e /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)

[ ${#need[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${need[*]}"
sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo"
# Kura runs its own PostgreSQL clusters: keep Debian from creating and starting a "main" one.
$sudo mkdir -p /etc/postgresql-common/createcluster.d
echo "create_main_cluster = false" | $sudo tee /etc/postgresql-common/createcluster.d/kura.conf >/dev/null
# Nor start Debian's own redis-server, postgresql or pgbouncer service while installing (Kura runs its own).
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null && $sudo chmod +x "$policy"
  trap '$sudo rm -f "$policy"' EXIT
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
