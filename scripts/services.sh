#!/usr/bin/env bash
# Starts the local servers the test suites talk to when they are installed but stopped, and creates their `test`
# databases: PostgreSQL 5432, Redis 6379, MariaDB 3306, RabbitMQ 5672, NATS 4222 (Debian's packages).
#
#   bash scripts/services.sh                # `npm test`: a server that is not installed, or will not start, is
#                                           # reported and left alone; the suites that need it skip and say so
#   bash scripts/services.sh --require-all  # .ci/run: every server must be installed and answer, or this fails
#
# A service whose TEST_<NAME>_URL is set lives elsewhere: it is not started here.
set -euo pipefail

REQUIRE_ALL=false
[[ "${1:-}" == --require-all ]] && REQUIRE_ALL=true

# Not there: fatal under --require-all, a note otherwise.
unavailable() {
  if $REQUIRE_ALL; then
    printf '\nservices: %s\n' "$*" >&2
    exit 1
  fi
  echo "services: $*; the suites that need it will be skipped"
}

wait_for() { # name, attempts, command...
  local name=$1 attempts=$2
  shift 2
  for _ in $(seq "$attempts"); do
    if "$@" >/dev/null 2>&1; then
      echo "$name answers"
      return 0
    fi
    sleep 1
  done
  return 1
}

# Whether something accepts TCP connections on 127.0.0.1:<port> (bash's /dev/tcp, no client needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

postgres_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
postgres_start() { pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start; }

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping; }
redis_start() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

mariadb_up() { mariadb-admin -h 127.0.0.1 -P 3306 -u root ping; }
mariadb_start() { start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd; }

# The node answers rabbitmqctl before its AMQP listener is up; the suites need the listener.
rabbitmq_up() { port_open 5672; }
rabbitmq_start() { rabbitmq-server -detached; }

nats_up() { port_open 4222; }
nats_start() {
  mkdir -p /var/lib/nats-server /var/log
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
}

require_tools() { # label, tools...
  local label=$1 tool
  shift
  for tool in "$@"; do
    if ! command -v "$tool" >/dev/null; then
      unavailable "$label: $tool is not installed (the suites need PostgreSQL, Redis, MariaDB, RabbitMQ and NATS from Debian's packages)"
      return 1
    fi
  done
}

# name, label, override variable, seconds to wait after starting, the tools it needs
ensure() {
  local name=$1 label=$2 override=$3 attempts=$4
  shift 4
  if [[ -n "${!override:-}" ]] && ! $REQUIRE_ALL; then
    echo "$label: $override is set, not managed here"
    return 0
  fi
  # CI needs the tools themselves too (the Redis Cluster suites run redis-server); elsewhere only to start a server.
  if $REQUIRE_ALL; then require_tools "$label" "$@"; fi
  if "${name}_up" >/dev/null 2>&1; then
    echo "$label answers"
    return 0
  fi
  require_tools "$label" "$@" || return 0
  echo "$label is down; starting it"
  "${name}_start" || true
  wait_for "$label" "$attempts" "${name}_up" || unavailable "$label does not answer on 127.0.0.1 after starting it"
}

ensure postgres PostgreSQL TEST_POSTGRES_URL 30 pg_isready psql
ensure redis Redis TEST_REDIS_URL 30 redis-server redis-cli
ensure mariadb MariaDB TEST_MARIADB_URL 60 mariadb mariadb-admin
ensure rabbitmq RabbitMQ TEST_RABBITMQ_URL 90 rabbitmq-server rabbitmqctl
ensure nats NATS TEST_NATS_URL 30 nats-server

# The suites' databases, where their server answers here.
if [[ -z "${TEST_POSTGRES_URL:-}" ]] && postgres_up >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -tAc "select 1 from pg_database where datname = 'test'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -c "create database test" || unavailable "cannot create PostgreSQL database test"
fi
if [[ -z "${TEST_MARIADB_URL:-}" ]] && mariadb_up >/dev/null 2>&1; then
  mariadb -h 127.0.0.1 -P 3306 -u root -e "create database if not exists test" \
    || unavailable "cannot create MariaDB database test"
fi
