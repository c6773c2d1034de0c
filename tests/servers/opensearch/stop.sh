#!/usr/bin/env bash
# Stops the OpenSearch started by start.sh and removes its data dir.
# Usage: tests/servers/opensearch/stop.sh "$JAEGER_TEST_OPENSEARCH_DIR"
set -uo pipefail
data="${1:-${JAEGER_TEST_OPENSEARCH_DIR:-}}"
[ -n "$data" ] && [ -f "$data/pid" ] || exit 0
pid=$(cat "$data/pid")
# The pid is nohup's child (runuser or env): end the whole process group's java too.
java_pid=$(pgrep -P "$pid" 2>/dev/null; pgrep -f "path.data=$data/data" 2>/dev/null) || true
for p in $pid $java_pid; do kill "$p" 2>/dev/null || true; done
for _ in $(seq 60); do
  alive=0
  for p in $pid $java_pid; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ "$alive" = 0 ] && break
  sleep 0.25
done
for p in $pid $java_pid; do kill -9 "$p" 2>/dev/null || true; done
case "$data" in */jaeger-opensearch.*) rm -rf "$data" ;; esac
