#!/usr/bin/env bash
# Runs Kafka's own topic admin CLI (org.apache.kafka.tools.TopicCommand, what
# bin/kafka-topics.sh runs) from the jars start.sh resolved. The tests call it through
# tests/common/mod.rs (kafka_create_topic) to make a fresh topic per test, e.g.
#
#   tests/servers/kafka/topics.sh --bootstrap-server 127.0.0.1:PORT --create \
#     --topic t1 --partitions 4 --replication-factor 1
#
# The jars are found through $JAEGER_TEST_KAFKA_DIR/lib (linked by start.sh) or else in
# the cache start.sh fills ($JAEGER_SERVERS_CACHE, default ~/.cache/jaeger-rs).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version=$(sed -n 's/^version=//p' "$here/start.sh")
lib="${JAEGER_TEST_KAFKA_DIR:+$JAEGER_TEST_KAFKA_DIR/lib}"
if [ -z "$lib" ] || [ ! -f "$lib/.complete" ]; then
  lib="${JAEGER_SERVERS_CACHE:-${HOME:-/tmp}/.cache/jaeger-rs}/kafka-$version/lib"
fi
if [ ! -f "$lib/.complete" ]; then
  echo "kafka: no Kafka jars in $lib; run tests/servers/kafka/start.sh first" >&2
  exit 1
fi
# A short-lived client: small heap and the quick JIT tier start it faster.
exec java -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Djava.awt.headless=true \
  -Dlog4j2.configurationFile="$here/log4j2.xml" -Dkafka.root.level=WARN -Dkafka.appender=stderr \
  -cp "$lib/*" org.apache.kafka.tools.TopicCommand "$@"
