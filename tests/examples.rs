//! End-to-end: every file in examples/ is loaded by the binary (`jaeger print-config`);
//! those that need no external server are started and answer on every port they
//! configure. Ports are rewritten to free loopback ports so tests run in parallel.

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{free_port, free_udp_port};

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Examples that need a server this test does not run (Cassandra, OpenSearch, Kafka):
/// they must parse and validate; loading them either succeeds or says which part this
/// build does not support yet. They are not started.
const NEEDS_EXTERNAL_SERVER: &[&str] = &[
    "config-cassandra.yaml",
    "config-opensearch.yaml",
    "config-kafka-collector.yaml",
];

/// TCP ports the examples use, and which of them are UDP.
const TCP_PORTS: &[u16] = &[
    4317, 4318, 14250, 14268, 9411, 16686, 16685, 13133, 14133, 8888, 8889, 2777, 5778, 5779,
];
const UDP_PORTS: &[u16] = &[6831, 6832];

fn all_examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("examples dir")
        .filter_map(|e| {
            let name = e.expect("dir entry").file_name().into_string().ok()?;
            name.ends_with(".yaml").then_some(name)
        })
        .collect();
    names.sort();
    names
}

#[test]
fn every_example_is_valid_for_the_binary() {
    let names = all_examples();
    assert!(names.len() >= 6, "{names:?}");
    for name in &names {
        let path = examples_dir().join(name);
        // print-config parses, validates and maps; secrets would be masked.
        let out = Command::new(env!("CARGO_BIN_EXE_jaeger"))
            .arg("--config")
            .arg(&path)
            .arg("print-config")
            .env("JAEGER_DATA_DIR", std::env::temp_dir())
            .output()
            .expect("run jaeger print-config");
        let stderr = String::from_utf8_lossy(&out.stderr);
        if NEEDS_EXTERNAL_SERVER.contains(&name.as_str()) {
            assert!(
                out.status.success() || stderr.contains("is not supported yet"),
                "{name}: {stderr}"
            );
            // Whatever this build runs, the file itself is valid.
            let text = std::fs::read_to_string(&path).expect("read");
            jaeger_config::v2::parse_str_with_env(&text, &|_: &str| None)
                .unwrap_or_else(|e| panic!("{name} does not validate: {e}"));
        } else {
            assert!(out.status.success(), "{name}: {stderr}");
        }
    }
}

/// An example with its ports replaced by free loopback ports.
struct Rewritten {
    text: String,
    /// Example port → the port it now uses.
    ports: BTreeMap<u16, SocketAddr>,
}

fn rewrite(text: &str) -> Rewritten {
    let mut text = text.replace("0.0.0.0:", "127.0.0.1:");
    text = text.replace("host: 0.0.0.0", "host: 127.0.0.1");
    let mut ports = BTreeMap::new();
    for &port in TCP_PORTS.iter().chain(UDP_PORTS) {
        let forms = [
            (format!(":{port}\""), ":{}\""),
            (format!(":{port}\n"), ":{}\n"),
            (format!("port: {port}\n"), "port: {}\n"),
        ];
        if !forms.iter().any(|(f, _)| text.contains(f.as_str())) {
            continue;
        }
        let new = if UDP_PORTS.contains(&port) {
            free_udp_port()
        } else {
            free_port()
        };
        for (from, to) in forms {
            text = text.replace(&from, &to.replace("{}", &new.port().to_string()));
        }
        ports.insert(port, new);
    }
    Rewritten { text, ports }
}

struct Running {
    child: Child,
    log: PathBuf,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `jaeger --config <rewritten example>` and waits for its health check.
fn start(name: &str, dir: &std::path::Path) -> (Running, Rewritten) {
    let original = std::fs::read_to_string(examples_dir().join(name)).expect("read example");
    let r = rewrite(&original);
    let file = dir.join(name);
    std::fs::write(&file, &r.text).expect("write config");
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .arg("--config")
        .arg(&file)
        // Jaeger v1's admin port has no YAML key: a free port keeps tests apart.
        .arg("--admin.http.host-port")
        .arg(free_port().to_string())
        .env("JAEGER_LISTEN_HOST", "127.0.0.1")
        .env("JAEGER_DATA_DIR", dir.join("data"))
        .env_remove("QUERY_BASE_PATH")
        .env_remove("SPAN_STORAGE_TYPE")
        .stdin(Stdio::null())
        .stdout(out.try_clone().expect("clone"))
        .stderr(out)
        .spawn()
        .expect("start jaeger");
    let mut running = Running { child, log };
    let health = r
        .ports
        .get(&13133)
        .or_else(|| r.ports.get(&14133))
        .copied()
        .unwrap_or_else(|| panic!("{name} has no health check"));
    let url = format!("http://{health}/status");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::blocking::Client::new();
    loop {
        if let Some(s) = running.child.try_wait().expect("poll") {
            panic!(
                "{name}: jaeger exited with {s}:\n{}",
                std::fs::read_to_string(&running.log).unwrap_or_default()
            );
        }
        if client
            .get(&url)
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{name}: not healthy:\n{}",
            std::fs::read_to_string(&running.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (running, r)
}

fn assert_answers_on_every_port(name: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (running, r) = start(name, dir.path());
    for (example_port, addr) in &r.ports {
        if UDP_PORTS.contains(example_port) {
            // Bound by jaeger: nobody else can bind it.
            assert!(
                std::net::UdpSocket::bind(addr).is_err(),
                "{name}: UDP {example_port} ({addr}) is not bound"
            );
        } else {
            assert!(
                TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok(),
                "{name}: nothing listens for {example_port} on {addr}:\n{}",
                std::fs::read_to_string(&running.log).unwrap_or_default()
            );
        }
    }
    if let Some(q) = r.ports.get(&16686) {
        let v: serde_json::Value = reqwest::blocking::get(format!("http://{q}/api/services"))
            .expect("query")
            .json()
            .expect("json");
        assert_eq!(v["data"], serde_json::json!([]), "{name}");
    }
    if let Some(m) = r.ports.get(&8888).or_else(|| r.ports.get(&8889)) {
        let text = reqwest::blocking::get(format!("http://{m}/metrics"))
            .expect("metrics")
            .text()
            .expect("text");
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }
    if let Some(e) = r.ports.get(&2777) {
        let v: serde_json::Value = reqwest::blocking::get(format!("http://{e}/debug/vars"))
            .expect("expvar")
            .json()
            .expect("json");
        assert!(v["cmdline"].is_array(), "{v}");
    }
}

#[test]
fn memory_example_answers_on_its_ports() {
    assert_answers_on_every_port("config-memory.yaml");
}

#[test]
fn all_in_one_example_answers_on_its_ports() {
    assert_answers_on_every_port("config-all-in-one.yaml");
}

#[test]
fn kafka_ingester_example_answers_on_its_ports() {
    // Its Kafka consumer keeps retrying the absent broker (localhost:9092) while its
    // query service, health check and metrics port run.
    assert_answers_on_every_port("config-kafka-ingester.yaml");
}

#[test]
fn every_runnable_example_is_started_by_a_test() {
    let started = [
        "config-memory.yaml",
        "config-all-in-one.yaml",
        "config-kafka-ingester.yaml",
    ];
    for name in all_examples() {
        assert!(
            started.contains(&name.as_str()) || NEEDS_EXTERNAL_SERVER.contains(&name.as_str()),
            "{name}: add it to a started test or to NEEDS_EXTERNAL_SERVER"
        );
    }
}
