#!/usr/bin/env bash
# Starts a single-node Apache Cassandra (from Maven Central jars) on free loopback ports
# for the tests, waits until it accepts logins, and prints what the tests need:
#
#   JAEGER_TEST_CASSANDRA=127.0.0.1:<cql port>
#   JAEGER_TEST_CASSANDRA_DIR=<data dir; pass it to stop.sh>
#   JAEGER_TEST_CASSANDRA_TLS=<dir with ca.pem, client.pem, client.key>
#
# The CQL port takes plain-text and TLS clients alike (client_encryption_options
# optional: true); the node's certificate, signed by ca.pem, names 127.0.0.1 and
# cassandra.test.
#
# Usage: eval "$(tests/servers/cassandra/start.sh)"; ...; tests/servers/cassandra/stop.sh "$JAEGER_TEST_CASSANDRA_DIR"
# The jars are resolved once into $JAEGER_SERVERS_CACHE (default ~/.cache/jaeger-rs),
# outside the clone, and reused by later runs. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=5.0.6
cache="${JAEGER_SERVERS_CACHE:-${HOME:-/tmp}/.cache/jaeger-rs}/cassandra-$version"
server=cassandra port_base=20000
# shellcheck source=../lib.sh
. "$here/../lib.sh"
need_tools openssl

if [ ! -f "$cache/lib/.complete" ]; then
  log "resolving cassandra-all $version from Maven Central into $cache/lib"
  mkdir -p "$cache/lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$cache/lib" -DincludeScope=runtime >&2
  touch "$cache/lib/.complete"
fi

# Two free loopback ports (CQL and internode).
pick_port cql_port; pick_port storage_port

data="$(mktemp -d "${TMPDIR:-/tmp}/jaeger-cassandra.XXXXXX")"
mkdir -p "$data/conf"
sed -e "s#@DATA@#$data#g" -e "s#@CQL_PORT@#$cql_port#g" -e "s#@STORAGE_PORT@#$storage_port#g" \
  "$here/cassandra.yaml" >"$data/conf/cassandra.yaml"
cp "$here/logback.xml" "$data/conf/logback.xml"

# A throwaway CA, the node's certificate in a PKCS12 keystore, and a client
# certificate for tests of mutual TLS.
tls="$data/tls"
make_test_certs "$tls" jaeger-test-ca "IP:127.0.0.1,DNS:cassandra.test,DNS:localhost" node client
openssl pkcs12 -export -in "$tls/node.pem" -inkey "$tls/node.key" -certfile "$tls/ca.pem" \
  -name node -passout pass:cassandra -out "$tls/keystore.p12"
keytool -importcert -noprompt -storetype PKCS12 -keystore "$tls/truststore.p12" \
  -storepass cassandra -alias ca -file "$tls/ca.pem" >/dev/null 2>&1
cat >>"$data/conf/cassandra.yaml" <<YAML
client_encryption_options:
  enabled: true
  optional: true
  keystore: $tls/keystore.p12
  keystore_password: cassandra
  store_type: PKCS12
  truststore: $tls/truststore.p12
  truststore_password: cassandra
  require_client_auth: false
YAML

# Cassandra's jvm17-server.options module flags, a small heap, no JMX, and the
# single-node shortcuts (no gossip settling, superuser created at once). unsafesystem
# skips fsync of schema tables: tests create one keyspace each.
opens=(
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-exports java.base/jdk.internal.ref=ALL-UNNAMED
  --add-exports java.base/sun.nio.ch=ALL-UNNAMED
  --add-exports java.management.rmi/com.sun.jmx.remote.internal.rmi=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports java.rmi/sun.rmi.server=ALL-UNNAMED
  --add-exports java.sql/java.sql=ALL-UNNAMED
  --add-opens java.base/java.lang.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.loader=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/jdk.internal.reflect=ALL-UNNAMED
  --add-opens java.base/jdk.internal.math=ALL-UNNAMED
  --add-opens java.base/jdk.internal.module=ALL-UNNAMED
  --add-opens java.base/jdk.internal.util.jar=ALL-UNNAMED
  --add-opens jdk.management/com.sun.management.internal=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/java.math=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.net=ALL-UNNAMED
)
started=$(date +%s)
log "starting on 127.0.0.1:$cql_port (data $data)"
nohup java "${opens[@]}" -Xms512m -Xmx${CASSANDRA_HEAP:-1g} -Xss512k \
  -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError \
  -Dcassandra.config="file://$data/conf/cassandra.yaml" \
  -Dlogback.configurationFile="$data/conf/logback.xml" \
  -Dcassandra.storagedir="$data" -Dcassandra-foreground=yes -Djava.net.preferIPv4Stack=true \
  -Dcassandra.skip_wait_for_gossip_to_settle=0 -Dcassandra.ring_delay_ms=0 \
  -Dcassandra.superuser_setup_delay_ms=0 -Dcassandra.unsafesystem=true \
  -cp "$data/conf:$cache/lib/*" org.apache.cassandra.service.CassandraDaemon \
  >"$data/cassandra.log" 2>&1 </dev/null &
echo $! >"$data/pid"

# Ready = the CQL port is open and the default superuser exists (logins work).
deadline=$((started + ${CASSANDRA_START_TIMEOUT:-150}))
until ! port_free "$cql_port" && grep -q "Created default superuser role" "$data/cassandra.log"; do
  if ! kill -0 "$(cat "$data/pid")" 2>/dev/null; then
    log "Cassandra exited during startup; last log lines:"; tail -n 40 "$data/cassandra.log" >&2
    "$here/stop.sh" "$data"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "not ready after ${CASSANDRA_START_TIMEOUT:-150}s; last log lines:"; tail -n 40 "$data/cassandra.log" >&2
    "$here/stop.sh" "$data"
    exit 1
  fi
  sleep 0.5
done
log "ready in $(( $(date +%s) - started ))s"
echo "JAEGER_TEST_CASSANDRA=127.0.0.1:$cql_port"
echo "JAEGER_TEST_CASSANDRA_DIR=$data"
echo "JAEGER_TEST_CASSANDRA_TLS=$tls"
