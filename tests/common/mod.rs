//! Test harness: starts the real `jaeger` binary on free loopback ports and stops it.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Loopback addresses a `jaeger` process was told to use.
#[derive(Clone, Debug)]
pub struct Ports {
    pub otlp_grpc: SocketAddr,
    pub otlp_http: SocketAddr,
    pub query: SocketAddr,
    pub query_grpc: SocketAddr,
    pub health: SocketAddr,
    pub metrics: SocketAddr,
    pub admin_http: SocketAddr,
    pub expvar: SocketAddr,
    pub jaeger_grpc: SocketAddr,
    pub jaeger_http: SocketAddr,
    pub zipkin: SocketAddr,
    pub jaeger_compact: SocketAddr,
    pub jaeger_binary: SocketAddr,
    pub sampling_http: SocketAddr,
    pub sampling_grpc: SocketAddr,
}

impl Ports {
    pub fn free() -> Self {
        Self {
            otlp_grpc: free_port(),
            otlp_http: free_port(),
            query: free_port(),
            query_grpc: free_port(),
            health: free_port(),
            metrics: free_port(),
            admin_http: free_port(),
            expvar: free_port(),
            jaeger_grpc: free_port(),
            jaeger_http: free_port(),
            zipkin: free_port(),
            jaeger_compact: free_udp_port(),
            jaeger_binary: free_udp_port(),
            sampling_http: free_port(),
            sampling_grpc: free_port(),
        }
    }
}

// Ports are handed out from 20000..32000, below Linux's ephemeral range (32768+), so
// the outgoing connections of parallel tests can never take a port between the moment
// we probe it and the moment the binary binds it. A process-wide counter keeps the
// threads of one test binary apart; the pid-derived start keeps concurrent binaries apart.
const PORT_RANGE: std::ops::Range<u32> = 20_000..32_000;

fn next_candidate() -> u16 {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: OnceLock<AtomicU32> = OnceLock::new();
    let span = PORT_RANGE.end - PORT_RANGE.start;
    let next = NEXT.get_or_init(|| AtomicU32::new((std::process::id() * 397) % span));
    let n = next.fetch_add(1, Ordering::Relaxed) % span;
    u16::try_from(PORT_RANGE.start + n).expect("PORT_RANGE lies within u16")
}

/// A TCP (and UDP) port nobody uses right now.
pub fn free_port() -> SocketAddr {
    for _ in 0..(PORT_RANGE.end - PORT_RANGE.start) {
        let addr = SocketAddr::from(([127, 0, 0, 1], next_candidate()));
        if TcpListener::bind(addr).is_ok() && std::net::UdpSocket::bind(addr).is_ok() {
            return addr;
        }
    }
    panic!("no free loopback port in {PORT_RANGE:?}");
}

/// A UDP port nobody uses right now.
pub fn free_udp_port() -> SocketAddr {
    free_port()
}

/// A running `jaeger` process; killed on drop.
pub struct Jaeger {
    pub child: Child,
    pub ports: Ports,
    pub data_dir: PathBuf,
    pub log: PathBuf,
}

pub struct JaegerBuilder {
    ports: Ports,
    data_dir: PathBuf,
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl JaegerBuilder {
    pub fn new(data_dir: &Path) -> Self {
        Self {
            ports: Ports::free(),
            data_dir: data_dir.to_path_buf(),
            args: Vec::new(),
            envs: Vec::new(),
        }
    }

    pub fn ports(mut self, ports: Ports) -> Self {
        self.ports = ports;
        self
    }

    pub fn arg(mut self, a: impl Into<String>) -> Self {
        self.args.push(a.into());
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.envs.push((k.into(), v.into()));
        self
    }

    /// Starts the binary and waits until its health check is green.
    pub fn start(self) -> Jaeger {
        let mut j = self.spawn();
        j.wait_healthy(Duration::from_secs(30));
        j
    }

    /// Starts the binary without waiting for health (for processes whose storage is
    /// meant to stay unusable).
    pub fn spawn(self) -> Jaeger {
        let p = &self.ports;
        let log = self.data_dir.with_extension(format!(
            "{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let log_file = std::fs::File::create(&log).expect("create log file");
        // JAEGER_BIN runs another build (a release binary for benchmarks) instead.
        let bin =
            std::env::var_os("JAEGER_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_jaeger").into());
        let mut cmd = Command::new(bin);
        cmd.arg("--data-dir")
            .arg(&self.data_dir)
            .arg("--collector.otlp.grpc.host-port")
            .arg(p.otlp_grpc.to_string())
            .arg("--collector.otlp.http.host-port")
            .arg(p.otlp_http.to_string())
            .arg("--query.http-server.host-port")
            .arg(p.query.to_string())
            .arg("--query.grpc-server.host-port")
            .arg(p.query_grpc.to_string())
            .arg("--health.host-port")
            .arg(p.health.to_string())
            .arg("--metrics.host-port")
            .arg(p.metrics.to_string())
            .arg("--admin.http.host-port")
            .arg(p.admin_http.to_string())
            .arg("--expvar.host-port")
            .arg(p.expvar.to_string())
            .arg("--collector.grpc-server.host-port")
            .arg(p.jaeger_grpc.to_string())
            .arg("--collector.http-server.host-port")
            .arg(p.jaeger_http.to_string())
            .arg("--collector.zipkin.host-port")
            .arg(p.zipkin.to_string())
            .arg("--processor.jaeger-compact.server-host-port")
            .arg(p.jaeger_compact.to_string())
            .arg("--processor.jaeger-binary.server-host-port")
            .arg(p.jaeger_binary.to_string())
            .arg("--sampling.http-server.host-port")
            .arg(p.sampling_http.to_string())
            .arg("--sampling.grpc-server.host-port")
            .arg(p.sampling_grpc.to_string())
            .args(&self.args)
            .env_remove("SPAN_STORAGE_TYPE")
            .env_remove("QUERY_BASE_PATH")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("clone log handle"))
            .stderr(log_file);
        for (k, v) in &self.envs {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start the jaeger binary");
        Jaeger {
            child,
            ports: self.ports,
            data_dir: self.data_dir,
            log,
        }
    }
}

impl Jaeger {
    pub fn start(data_dir: &Path) -> Self {
        JaegerBuilder::new(data_dir).start()
    }

    pub fn query_url(&self, path: &str) -> String {
        format!("http://{}{}", self.ports.query, path)
    }

    pub fn otlp_http_url(&self) -> String {
        format!("http://{}/v1/traces", self.ports.otlp_http)
    }

    pub fn otlp_grpc_url(&self) -> String {
        format!("http://{}", self.ports.otlp_grpc)
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_healthy(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let url = format!("http://{}/status", self.ports.health);
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .expect("http client");
        loop {
            if let Some(status) = self.child.try_wait().expect("poll child") {
                panic!("jaeger exited early with {status}:\n{}", self.logs());
            }
            if client
                .get(&url)
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return;
            }
            if Instant::now() > deadline {
                panic!("jaeger not healthy after {timeout:?}:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no shutdown hooks run.
    pub fn kill9(mut self) {
        self.child.kill().expect("SIGKILL jaeger");
        self.child.wait().expect("reap jaeger");
    }

    /// SIGTERM and wait for a clean exit; returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("send SIGTERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait().expect("poll child") {
                return s;
            }
            if Instant::now() > deadline {
                panic!("jaeger did not exit after SIGTERM:\n{}", self.logs());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// GET a query URL and parse the JSON body, asserting the status.
    pub fn get_json(&self, path: &str, expect_status: u16) -> serde_json::Value {
        let r = reqwest::blocking::get(self.query_url(path)).expect("query request");
        let status = r.status().as_u16();
        let body = r.text().expect("body");
        assert_eq!(status, expect_status, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Polls a search until it returns `n` traces (writes are acknowledged before they
    /// are readable only in the sense that the SDK exports asynchronously).
    pub fn wait_for_traces(&self, path: &str, n: usize) -> serde_json::Value {
        self.wait_for_json(path, &format!("{n} traces"), |v| {
            v["data"].as_array().map(|a| a.len()) == Some(n)
        })
    }

    /// Polls `path` (20 s at most) until `done` holds for its JSON: stores make writes
    /// visible shortly after acknowledging them (OpenSearch refreshes each shard on its
    /// own, so the two spans of one request may show up one after the other).
    pub fn wait_for_json(
        &self,
        path: &str,
        what: &str,
        done: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.get_json(path, 200);
            if done(&v) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("expected {what} from {path}, got {v}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Jaeger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Microseconds since the epoch, for query windows.
pub fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Nanoseconds since the epoch, for building spans.
pub fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Posts a two-span trace (`GET /` server span with a `SELECT` client child, ids `…a1`/`…a2`)
/// of `service` as OTLP JSON to `url`, started two seconds ago, and expects 200.
pub fn post_two_span_trace(url: &str, service: &str, trace: &str) {
    let start = now_nanos() - 2_000_000_000;
    let span = |id: &str, parent: &str, name: &str, offset: u64, kind: u8| {
        serde_json::json!({"traceId": trace, "spanId": id, "parentSpanId": parent, "name": name,
            "kind": kind,
            "startTimeUnixNano": (start + offset).to_string(),
            "endTimeUnixNano": (start + offset + 5_000_000).to_string(),
            "attributes": [{"key": "http.method", "value": {"stringValue": "GET"}}]})
    };
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
        "scopeSpans": [{"spans": [
            span("00000000000000a1", "", "GET /", 0, 2),
            span("00000000000000a2", "00000000000000a1", "SELECT", 1_000_000, 3)
        ]}]
    }]});
    let r = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .expect("OTLP post");
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
}

/// `/api/traces` for `service` over the last hour (and a minute ahead), limit 20.
pub fn search_last_hour(service: &str) -> String {
    let end = now_micros() + 60_000_000;
    let start = end - 3_600_000_000;
    format!("/api/traces?service={service}&start={start}&end={end}&limit=20")
}

/// Sends the two-span trace `…c0de` of service `shop` ([`post_two_span_trace`]) to `j` and
/// checks it reads back: by search (a 64-bit trace id prints as 16 hex digits in the UI
/// JSON), by id, and in `/api/services`. Returns the trace id.
pub fn shop_trace_round_trip(j: &Jaeger) -> &'static str {
    let trace = "0000000000000000000000000000c0de";
    post_two_span_trace(&j.otlp_http_url(), "shop", trace);

    let spans = |v: &serde_json::Value| v["data"][0]["spans"].as_array().map(Vec::len);
    let v = j.wait_for_json(&search_last_hour("shop"), "one trace of 2 spans", |v| {
        v["data"].as_array().map(Vec::len) == Some(1) && spans(v) == Some(2)
    });
    let t = &v["data"][0];
    assert_eq!(t["traceID"], "000000000000c0de");
    assert_eq!(t["spans"].as_array().map(Vec::len), Some(2), "{t}");
    let by_id = j.get_json(&format!("/api/traces/{trace}"), 200);
    assert_eq!(by_id["data"][0]["spans"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        j.get_json("/api/services", 200)["data"],
        serde_json::json!(["shop"])
    );
    trace
}

/// The Kafka test broker's `host:port` from `JAEGER_TEST_KAFKA` (scripts/test starts it with
/// tests/servers/kafka/start.sh), or `None` to skip when a test is run ad hoc without one;
/// under `JAEGER_TEST_REQUIRE_SERVERS=1` a missing broker fails the test.
pub fn kafka_test_broker() -> Option<String> {
    match std::env::var("JAEGER_TEST_KAFKA") {
        Ok(a) if !a.is_empty() => Some(a),
        _ => {
            if std::env::var("JAEGER_TEST_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!(
                    "JAEGER_TEST_KAFKA is not set but JAEGER_TEST_REQUIRE_SERVERS=1: start \
                     Kafka with tests/servers/kafka/start.sh (scripts/test does)"
                );
            }
            eprintln!("skipped: JAEGER_TEST_KAFKA is not set (see tests/servers/kafka)");
            None
        }
    }
}

/// Creates `topic` with `partitions` partitions on the test broker with Kafka's own admin
/// CLI (tests/servers/kafka/topics.sh runs TopicCommand from the jars start.sh resolved),
/// so a test gets a fresh topic of its own; an existing topic of that name is left as is.
pub fn kafka_create_topic(broker: &str, topic: &str, partitions: u32) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/servers/kafka/topics.sh");
    let out = Command::new(&script)
        .args(["--bootstrap-server", broker, "--create", "--if-not-exists"])
        .args(["--topic", topic, "--replication-factor", "1"])
        .args(["--partitions", &partitions.to_string()])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "creating Kafka topic {topic} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A TCP proxy in front of a test server that a test cuts and restores, standing in for
/// a server that goes away (the shared server keeps serving the other tests). Listens
/// on `listen` (`127.0.0.1:0` for any free port; see `addr`).
pub struct CutProxy {
    pub addr: SocketAddr,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl CutProxy {
    pub fn start(listen: &str, upstream: &str) -> Self {
        use std::sync::atomic::Ordering;
        let listener =
            TcpListener::bind(listen).unwrap_or_else(|e| panic!("bind the proxy on {listen}: {e}"));
        let addr = listener.local_addr().expect("proxy addr");
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::<std::net::TcpStream>::new()));
        let upstream = upstream.to_string();
        let (d, c) = (down.clone(), conns.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if d.load(Ordering::SeqCst) {
                    // Down: the connection is closed at once, like a stopped server's port.
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                let pipe = |mut from: std::net::TcpStream, mut to: std::net::TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                        let _ = from.shutdown(std::net::Shutdown::Both);
                    });
                };
                let (Ok(c1), Ok(s1), Ok(c2), Ok(s2)) = (
                    client.try_clone(),
                    server.try_clone(),
                    client.try_clone(),
                    server.try_clone(),
                ) else {
                    continue;
                };
                c.lock().expect("proxy lock").extend([c1, s1]);
                pipe(c2, s2);
                pipe(server, client);
            }
        });
        Self { addr, down, conns }
    }

    /// Closes every open connection and refuses new ones.
    pub fn cut(&self) {
        self.down.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.conns.lock().expect("proxy lock").drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.down.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}
