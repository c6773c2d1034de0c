# One image per role, all from the same `jaeger` binary:
#
#   docker build --target all-in-one -t jaeger-rs/all-in-one .
#   docker build --target collector  -t jaeger-rs/collector .
#   docker build --target query      -t jaeger-rs/query .
#   docker build --target ingester   -t jaeger-rs/ingester .
#
# Not built in CI (no container engine runs there); see docs/deployment.md.

# ---- build ----------------------------------------------------------------------------
# DataFusion 55 needs Rust 1.94.
FROM rust:1.94-slim-bookworm AS build
WORKDIR /src
COPY . .
# The UI is committed under ui-assets/web and the protos compile with protox: no node
# or protoc needed.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin jaeger \
 && cp target/release/jaeger /usr/local/bin/jaeger

# ---- common runtime -------------------------------------------------------------------
# debian-slim rather than distroless: the health check below needs a shell (bash's
# /dev/tcp), and nothing else is installed.
FROM debian:bookworm-slim AS runtime
RUN useradd --system --uid 10001 --home-dir /var/lib/jaeger --create-home jaeger
COPY --from=build /usr/local/bin/jaeger /usr/local/bin/jaeger
COPY examples/ /etc/jaeger/
USER 10001:10001
WORKDIR /var/lib/jaeger
# Listen on every interface inside the container (the examples default to localhost).
ENV JAEGER_LISTEN_HOST=0.0.0.0 \
    JAEGER_DATA_DIR=/var/lib/jaeger
VOLUME ["/var/lib/jaeger"]
# Healthy when GET :13133/status says so (`"healthy":true`).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/13133 && printf 'GET /status HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"healthy\":true' <&3"]
ENTRYPOINT ["/usr/local/bin/jaeger"]

# ---- roles ----------------------------------------------------------------------------
# All-in-one: receivers, query service + UI, embedded store (data in the volume).
FROM runtime AS all-in-one
# OTLP gRPC/HTTP, Jaeger gRPC / Thrift HTTP, agent UDP, Zipkin, sampling HTTP/gRPC,
# query HTTP/gRPC, health, Prometheus, expvar, v1 admin.
EXPOSE 4317 4318 14250 14268 6831/udp 6832/udp 9411 5778 5779 16686 16685 13133 8888 2777 14269
CMD ["--config", "/etc/jaeger/config-all-in-one.yaml"]

# Collector: receivers, remote sampling and the storage writer; no query service.
# Mount your own config (only the storage location changes between installs).
FROM runtime AS collector
EXPOSE 4317 4318 14250 14268 6831/udp 6832/udp 9411 5778 5779 13133 8888 2777 14269
CMD ["collector", "--config", "/etc/jaeger/config-all-in-one.yaml"]

# Query: HTTP API + UI and gRPC query service; no receivers.
FROM runtime AS query
EXPOSE 16686 16685 13133 8888 2777 14269
CMD ["query", "--config", "/etc/jaeger/config-all-in-one.yaml"]

# Ingester: Kafka → storage. This build does not read from Kafka yet (it starts with a
# warning and serves its store's query service); health on 14133, metrics on 8889.
FROM runtime AS ingester
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/14133 && printf 'GET /status HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && grep -q '\"healthy\":true' <&3"]
EXPOSE 14133 8889 16686 16685 14269
CMD ["--config", "/etc/jaeger/config-kafka-ingester.yaml"]

# The default target.
FROM all-in-one
