#!/usr/bin/env bash
# Stops the Kafka started by start.sh and removes its data dir.
# Usage: tests/servers/kafka/stop.sh "$JAEGER_TEST_KAFKA_DIR"
set -uo pipefail
data="${1:-${JAEGER_TEST_KAFKA_DIR:-}}"
[ -n "$data" ] && [ -f "$data/pid" ] || exit 0
pid=$(cat "$data/pid")
if kill "$pid" 2>/dev/null; then
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
fi
case "$data" in */jaeger-kafka.*) rm -rf "$data" ;; esac
