//! End-to-end behind a real reverse proxy: the binary runs with `--query.base-path=/jaeger`
//! behind Debian's nginx proxying `/jaeger/`, as Jaeger's deployment guide sets it up.
//! Through the proxy: the UI page at `/jaeger` and `/jaeger/`, its static assets, the
//! API with a trace ingested over OTLP, 404s for unknown API paths, and a headless
//! Chromium (driven by playwright-core) that searches the UI and finds the trace.
//!
//! A custom harness (libtest-mimic) so that jaeger and nginx start once, on first use,
//! and are stopped when every test is done.

#[path = "../common/mod.rs"]
mod common;
mod nginx;

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, now_nanos};
use libtest_mimic::{Arguments, Failed, Trial};
use nginx::Nginx;
use serde_json::{Value, json};

const TRACE_ID: &str = "7d3a1c9e5b2f40618a9c0d1e2f3a4b5c";
const SERVICE: &str = "proxy-frontend";
const SPANS: [&str; 3] = ["GET /checkout", "charge card", "SELECT orders"];

struct Fixture {
    // Dropped in this order: the proxy first, then the backend.
    nginx: Nginx,
    jaeger: Jaeger,
    _dir: tempfile::TempDir,
}

static FIXTURE: Mutex<Option<Result<Arc<Fixture>, String>>> = Mutex::new(None);

/// jaeger and nginx, started by the first test that needs them.
fn fixture() -> Result<Arc<Fixture>, Failed> {
    let mut slot = FIXTURE.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert_with(|| Fixture::start().map(Arc::new))
        .clone()
        .map_err(Failed::from)
}

fn otlp_trace() -> Value {
    let start = now_nanos() - 2_000_000_000;
    let ms = 1_000_000u64;
    let span = |i: usize, parent: &str, off: u64, dur: u64| {
        json!({"traceId": TRACE_ID, "spanId": format!("{:016x}", 0xa0 + i), "parentSpanId": parent,
               "name": SPANS[i], "kind": 2,
               "startTimeUnixNano": (start + off * ms).to_string(),
               "endTimeUnixNano": (start + (off + dur) * ms).to_string()})
    };
    let resource = |svc: &str, spans: Vec<Value>| {
        json!({"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}}]},
               "scopeSpans": [{"spans": spans}]})
    };
    json!({"resourceSpans": [
        resource(SERVICE, vec![span(0, "", 0, 120)]),
        resource("proxy-payments", vec![span(1, "00000000000000a0", 10, 60), span(2, "00000000000000a1", 20, 15)]),
    ]})
}

impl Fixture {
    fn start() -> Result<Fixture, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let jaeger = JaegerBuilder::new(&dir.path().join("data"))
            .arg("--storage=memory")
            .arg("--query.base-path=/jaeger")
            .start();
        let r = reqwest::blocking::Client::new()
            .post(jaeger.otlp_http_url())
            .header("content-type", "application/json")
            .body(otlp_trace().to_string())
            .send()
            .map_err(|e| e.to_string())?;
        if !r.status().is_success() {
            return Err(format!("OTLP export answered {}", r.status()));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        let direct = jaeger.query_url(&format!("/jaeger/api/traces/{TRACE_ID}"));
        while reqwest::blocking::get(&direct)
            .map_err(|e| e.to_string())?
            .status()
            != 200
        {
            if Instant::now() > deadline {
                return Err("the ingested trace never became readable".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let nginx = Nginx::start("/jaeger/", jaeger.ports.query)?;
        Ok(Fixture {
            nginx,
            jaeger,
            _dir: dir,
        })
    }

    fn get(&self, path: &str) -> Result<reqwest::blocking::Response, Failed> {
        reqwest::blocking::get(self.nginx.url(path))
            .map_err(|e| format!("GET {path} through nginx: {e}\n{}", self.nginx.logs()).into())
    }
}

fn check(cond: bool, msg: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(msg().into()) }
}

fn index_at_base_path_with_and_without_slash() -> Result<(), Failed> {
    let f = fixture()?;
    for path in ["/jaeger/", "/jaeger", "/jaeger/search", "/jaeger/trace/abc"] {
        let r = f.get(path)?;
        let url = r.url().path().to_string();
        let status = r.status().as_u16();
        let ctype = r.headers()["content-type"].to_str()?.to_string();
        let body = r.text()?;
        check(status == 200, || format!("{path}: {status}"))?;
        check(ctype.starts_with("text/html"), || {
            format!("{path}: {ctype}")
        })?;
        check(body.contains("<title>Jaeger UI</title>"), || {
            format!("{path}: {body}")
        })?;
        // Relative asset and API URLs resolve under the prefix.
        check(body.contains(r#"<base href="/jaeger/""#), || {
            format!("{path}: {body}")
        })?;
        if path == "/jaeger" {
            check(url == "/jaeger/", || format!("/jaeger ended at {url}"))?;
        }
    }
    Ok(())
}

fn api_and_ingested_trace_through_the_proxy() -> Result<(), Failed> {
    let f = fixture()?;
    let services: Value = f.get("/jaeger/api/services")?.json()?;
    let names: Vec<&str> = services["data"]
        .as_array()
        .ok_or("no data")?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    check(
        names.contains(&SERVICE) && names.contains(&"proxy-payments"),
        || format!("{services}"),
    )?;
    let t: Value = f.get(&format!("/jaeger/api/traces/{TRACE_ID}"))?.json()?;
    check(t["data"][0]["traceID"] == TRACE_ID, || format!("{t}"))?;
    let mut ops: Vec<&str> = t["data"][0]["spans"]
        .as_array()
        .ok_or("no spans")?
        .iter()
        .filter_map(|s| s["operationName"].as_str())
        .collect();
    ops.sort_unstable();
    let mut want = SPANS.to_vec();
    want.sort_unstable();
    check(ops == want, || format!("{ops:?}"))?;
    let search: Value = f
        .get(&format!("/jaeger/api/traces?service={SERVICE}&limit=5"))?
        .json()?;
    check(search["data"].as_array().map(Vec::len) == Some(1), || {
        format!("{search}")
    })?;
    let v3: Value = f.get("/jaeger/api/v3/services")?.json()?;
    check(v3["services"].as_array().map(Vec::len) == Some(2), || {
        format!("{v3}")
    })?;
    Ok(())
}

fn unknown_api_paths_are_404_not_the_ui() -> Result<(), Failed> {
    let f = fixture()?;
    for path in [
        "/jaeger/api/x",
        "/jaeger/api/traces/",
        "/jaeger/api/v3/nope",
    ] {
        let r = f.get(path)?;
        let status = r.status().as_u16();
        let body = r.text()?;
        check(status == 404, || format!("{path}: {status}"))?;
        check(!body.contains("<html"), || format!("{path} served the UI"))?;
    }
    let r = f.get(&format!("/jaeger/api/traces/{}", "f".repeat(33)))?;
    check(r.status() == 400, || format!("33-digit id: {}", r.status()))?;
    Ok(())
}

fn static_assets_load_through_the_proxy() -> Result<(), Failed> {
    let f = fixture()?;
    let index = f.get("/jaeger/")?.text()?;
    for (asset, ctype, marker) in [
        ("static/app.js", "text/javascript", "use strict"),
        ("static/app.css", "text/css", ".span-row"),
    ] {
        check(index.contains(&format!("\"{asset}\"")), || {
            format!("index.html does not load {asset}")
        })?;
        let r = f.get(&format!("/jaeger/{asset}"))?;
        let status = r.status().as_u16();
        let got = r.headers()["content-type"].to_str()?.to_string();
        let body = r.text()?;
        check(status == 200, || format!("{asset}: {status}"))?;
        check(got.starts_with(ctype), || format!("{asset}: {got}"))?;
        check(body.contains(marker), || format!("{asset}: {body}"))?;
    }
    let r = f.get("/jaeger/static/missing.js")?;
    check(r.status() == 404, || {
        format!("missing asset: {}", r.status())
    })?;
    Ok(())
}

/// `node` runs `tests/browser/find_trace.mjs`: headless Chromium searches the UI
/// through the proxy and opens the trace.
fn browser_finds_the_trace() -> Result<(), Failed> {
    let f = fixture()?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/find_trace.mjs");
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        return Err("playwright-core is not installed: run scripts/test, or \
             npm ci --prefix tests/browser"
            .into());
    }
    let shot = root.join("target/browser-find-trace.png");
    let mut child = Command::new("node")
        .arg(&script)
        .env("UI_URL", f.nginx.url("/jaeger/"))
        .env("SERVICE", SERVICE)
        .env("TRACE_ID", TRACE_ID)
        .env("SPAN_NAMES", SPANS.join("|"))
        .env("SCREENSHOT", &shot)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // The script has its own timeouts; this only guards against a hung browser.
    let deadline = Instant::now() + Duration::from_secs(90);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output()?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    check(out.status.success(), || {
        format!(
            "{} failed ({}):\n{text}\njaeger log:\n{}",
            script.display(),
            out.status,
            f.jaeger.logs()
        )
    })
}

fn node_available() -> bool {
    Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test(
            "index_at_base_path_with_and_without_slash",
            index_at_base_path_with_and_without_slash,
        ),
        Trial::test(
            "api_and_ingested_trace_through_the_proxy",
            api_and_ingested_trace_through_the_proxy,
        ),
        Trial::test(
            "unknown_api_paths_are_404_not_the_ui",
            unknown_api_paths_are_404_not_the_ui,
        ),
        Trial::test(
            "static_assets_load_through_the_proxy",
            static_assets_load_through_the_proxy,
        ),
    ];
    let browser = Trial::test("browser_finds_the_trace", browser_finds_the_trace);
    if node_available() {
        trials.push(browser);
    } else {
        eprintln!("browser_finds_the_trace skipped: `node` is not installed");
        trials.push(browser.with_ignored_flag(true));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Every test is done: stop nginx, then jaeger.
    drop(FIXTURE.lock().unwrap_or_else(|p| p.into_inner()).take());
    conclusion.exit_code()
}
