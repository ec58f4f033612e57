#!/usr/bin/env bash
# Start Redis for `make run` on loopback, unless one already answers on that port
# (Debian may run its own service), in which case we use it and just wait.
set -euo pipefail
PORT="${REDIS_PORT:-6379}"
if redis-cli -p "$PORT" ping >/dev/null 2>&1; then
    echo "redis: using the Redis already running on port $PORT"
    exec tail -f /dev/null
fi
exec redis-server --port "$PORT" --bind 127.0.0.1 --save '' --appendonly no
