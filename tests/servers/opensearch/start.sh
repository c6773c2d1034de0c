#!/usr/bin/env bash
# Starts a single-node OpenSearch (the integ-test-zip distribution from Maven Central) on a
# free loopback port for the tests, waits until the cluster is green, and prints what the
# tests need:
#
#   JAEGER_TEST_OPENSEARCH=http://127.0.0.1:<http port>
#   JAEGER_TEST_OPENSEARCH_DIR=<data dir; pass it to stop.sh>
#
# Usage: eval "$(tests/servers/opensearch/start.sh)"; ...; tests/servers/opensearch/stop.sh "$JAEGER_TEST_OPENSEARCH_DIR"
# The zip is resolved once into $JAEGER_SERVERS_CACHE (default ~/.cache/jaeger-rs),
# outside the clone, and reused by later runs. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=2.19.3
cache="${JAEGER_SERVERS_CACHE:-${HOME:-/tmp}/.cache/jaeger-rs}/opensearch-$version"
server=opensearch port_base=24000
# shellcheck source=../lib.sh
. "$here/../lib.sh"
need_tools unzip curl

if [ ! -f "$cache/.complete" ]; then
  log "resolving the OpenSearch $version integ-test-zip from Maven Central into $cache"
  mkdir -p "$cache"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$cache" -DincludeTypes=zip >&2
  touch "$cache/.complete"
fi

pick_port http_port; pick_port transport_port

# Each run gets its own copy of the distribution: OpenSearch refuses to run as root, so
# under root it runs as `nobody`, which must own its home, config and data.
data="$(mktemp -d "${TMPDIR:-/tmp}/jaeger-opensearch.XXXXXX")"
chmod 755 "$data"
unzip -q "$cache"/opensearch-*.zip -d "$data"
mv "$data/opensearch-$version" "$data/home"
as_user=()
if [ "$(id -u)" = 0 ]; then
  chown -R nobody:nogroup "$data"
  as_user=(runuser -u nobody --)
fi

java_home="${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")}"
started=$(date +%s)
log "starting on 127.0.0.1:$http_port (data $data)"
# Single node on loopback (no bootstrap checks), small heap, no disk watermarks (a
# nearly full CI disk must not turn indices read-only), security plugin absent.
nohup "${as_user[@]}" env JAVA_HOME="$java_home" \
  OPENSEARCH_JAVA_OPTS="-Xms${OPENSEARCH_HEAP_MIN:-256m} -Xmx${OPENSEARCH_HEAP:-512m}" \
  "$data/home/bin/opensearch" \
  -Epath.data="$data/data" -Epath.logs="$data/logs" \
  -Enetwork.host=127.0.0.1 -Ehttp.port="$http_port" -Etransport.port="$transport_port" \
  -Ediscovery.type=single-node -Ecluster.name=jaeger-test -Enode.name=jaeger-test \
  -Ecluster.routing.allocation.disk.threshold_enabled=false \
  >"$data/opensearch.out" 2>&1 </dev/null &
echo $! >"$data/pid"

url="http://127.0.0.1:$http_port"
deadline=$((started + ${OPENSEARCH_START_TIMEOUT:-180}))
until curl -fsS "$url/_cluster/health?wait_for_status=yellow&timeout=1s" >/dev/null 2>&1; do
  if ! kill -0 "$(cat "$data/pid")" 2>/dev/null; then
    log "OpenSearch exited during startup; last log lines:"; tail -n 40 "$data/opensearch.out" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "not ready after ${OPENSEARCH_START_TIMEOUT:-180}s; last log lines:"; tail -n 40 "$data/opensearch.out" >&2
    "$here/stop.sh" "$data"
    exit 1
  fi
  sleep 0.5
done
log "ready in $(( $(date +%s) - started ))s"
echo "JAEGER_TEST_OPENSEARCH=$url"
echo "JAEGER_TEST_OPENSEARCH_DIR=$data"
