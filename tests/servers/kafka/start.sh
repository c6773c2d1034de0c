#!/usr/bin/env bash
# Starts a single-node Apache Kafka in KRaft mode (one process, broker and controller; jars
# from Maven Central) on free loopback ports for the tests, waits until the broker serves,
# and prints what the tests need:
#
#   JAEGER_TEST_KAFKA=127.0.0.1:<broker port>
#   JAEGER_TEST_KAFKA_DIR=<data dir; pass it to stop.sh>
#   JAEGER_TEST_KAFKA_SSL=127.0.0.1:<port>   TLS listener; clients need a certificate (mTLS)
#   JAEGER_TEST_KAFKA_SASL=127.0.0.1:<port>  SASL_PLAINTEXT listener: PLAIN, SCRAM-SHA-256,
#                                            SCRAM-SHA-512; user jaeger, password jaeger-secret
#   JAEGER_TEST_KAFKA_TLS_DIR=<dir>          ca.pem, client.pem, client.key (throwaway, made here)
#   JAEGER_TEST_KAFKA_PROXIED=127.0.0.1:<port> a plain listener that advertises
#   JAEGER_TEST_KAFKA_PROXY=127.0.0.1:<port>   this address instead: a test puts a TCP proxy
#                                            there and cuts it to take "the broker" away
#
# The same lines are written to <data dir>/env for tests run with only the first two set.
#
# Topics are created on first use with 4 partitions (auto.create.topics.enable); tests
# that want a fresh topic of their own make it with topics.sh (Kafka's TopicCommand).
#
# Usage: eval "$(tests/servers/kafka/start.sh)"; ...; tests/servers/kafka/stop.sh "$JAEGER_TEST_KAFKA_DIR"
# The jars are resolved once into $JAEGER_SERVERS_CACHE (default ~/.cache/jaeger-rs),
# outside the clone, and reused by later runs. Progress goes to stderr.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=4.4.0
cache="${JAEGER_SERVERS_CACHE:-${HOME:-/tmp}/.cache/jaeger-rs}/kafka-$version"
server=kafka port_base=28000
# shellcheck source=../lib.sh
. "$here/../lib.sh"
need_tools openssl

if [ ! -f "$cache/lib/.complete" ]; then
  log "resolving kafka_2.13 $version from Maven Central into $cache/lib"
  rm -rf "$cache/lib"
  mkdir -p "$cache/lib"
  mvn -q -B -f "$here/pom.xml" dependency:copy-dependencies \
    -DoutputDirectory="$cache/lib" -DincludeScope=runtime >&2
  touch "$cache/lib/.complete"
fi

# Free loopback ports: clients, the KRaft controller, TLS, SASL, the proxied listener and
# the address it advertises (where a test's proxy listens).
pick_port port; pick_port controller_port; pick_port ssl_port; pick_port sasl_port
pick_port proxied_port; pick_port proxy_port

data="$(mktemp -d "${TMPDIR:-/tmp}/jaeger-kafka.XXXXXX")"
# topics.sh finds the jars through this link when given JAEGER_TEST_KAFKA_DIR.
ln -s "$cache/lib" "$data/lib"
cp "$here/log4j2.xml" "$data/log4j2.xml"

# Throwaway certificates: a CA, the broker's (for 127.0.0.1 and localhost) and a client's.
# Kafka reads PEM directly (ssl.keystore.type=PEM: the PKCS#8 key, then the certificate).
tls="$data/tls"
make_test_certs "$tls" jaeger-test-kafka-ca "IP:127.0.0.1,DNS:localhost" broker client
cat "$tls/broker.key" "$tls/broker.pem" >"$tls/broker-keystore.pem"
scram_user=jaeger
scram_password=jaeger-secret
# Replication factors of 1 for the internal topics (one broker), a few partitions for the
# consumer-offsets topic so the first consumer group is ready fast, and no initial
# rebalance delay so a test's consumer gets its partitions at once.
cat >"$data/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port,SSL://127.0.0.1:$ssl_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,PROXIED://127.0.0.1:$proxied_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SSL://127.0.0.1:$ssl_port,SASL_PLAINTEXT://127.0.0.1:$sasl_port,PROXIED://127.0.0.1:$proxy_port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,PROXIED:PLAINTEXT
ssl.keystore.type=PEM
ssl.keystore.location=$tls/broker-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$tls/ca.pem
ssl.client.auth=required
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_plaintext.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$scram_user="$scram_password";
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
log.dirs=$data/data
num.partitions=${KAFKA_NUM_PARTITIONS:-4}
auto.create.topics.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=4
PROPS

jvm=(java -Xms128m -Xmx${KAFKA_HEAP:-512m} -XX:+UseG1GC -XX:+ExitOnOutOfMemoryError
  -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
  -Dlog4j2.configurationFile="$data/log4j2.xml" -Dkafka.logs.dir="$data"
  -cp "$cache/lib/*")

started=$(date +%s)
# The cluster id is 16 random bytes in URL-safe base64 (what `kafka-storage random-uuid`
# prints); formatting writes it and the node's metadata into the empty log dir.
cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
if ! "${jvm[@]}" -XX:TieredStopAtLevel=1 -Dkafka.root.level=WARN -Dkafka.appender=stderr \
  kafka.tools.StorageTool \
  format --cluster-id "$cluster_id" --config "$data/server.properties" --ignore-formatted \
  --add-scram "SCRAM-SHA-256=[name=$scram_user,password=$scram_password]" \
  --add-scram "SCRAM-SHA-512=[name=$scram_user,password=$scram_password]" \
  >"$data/format.log" 2>&1; then
  log "formatting the log dir failed:"; cat "$data/format.log" >&2
  exit 1
fi

log "starting on 127.0.0.1:$port (data $data)"
nohup "${jvm[@]}" kafka.Kafka "$data/server.properties" >"$data/stdout.log" 2>&1 </dev/null &
echo $! >"$data/pid"

# Ready = the client port is open and the server logged that it finished starting (the
# broker is unfenced by then, so metadata requests and produces succeed).
deadline=$((started + ${KAFKA_START_TIMEOUT:-300}))
until ! port_free "$port" && grep -q "Kafka Server started" "$data/server.log" 2>/dev/null; do
  if ! kill -0 "$(cat "$data/pid")" 2>/dev/null; then
    log "Kafka exited during startup; last log lines:"
    tail -n 40 "$data/server.log" "$data/stdout.log" >&2 2>/dev/null || true
    "$here/stop.sh" "$data"
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "not ready after ${KAFKA_START_TIMEOUT:-300}s; last log lines:"
    tail -n 40 "$data/server.log" "$data/stdout.log" >&2 2>/dev/null || true
    "$here/stop.sh" "$data"
    exit 1
  fi
  sleep 0.3
done
log "ready in $(( $(date +%s) - started ))s"
cat >"$data/env" <<ENV
JAEGER_TEST_KAFKA=127.0.0.1:$port
JAEGER_TEST_KAFKA_DIR=$data
JAEGER_TEST_KAFKA_SSL=127.0.0.1:$ssl_port
JAEGER_TEST_KAFKA_SASL=127.0.0.1:$sasl_port
JAEGER_TEST_KAFKA_TLS_DIR=$tls
JAEGER_TEST_KAFKA_PROXIED=127.0.0.1:$proxied_port
JAEGER_TEST_KAFKA_PROXY=127.0.0.1:$proxy_port
ENV
cat "$data/env"
