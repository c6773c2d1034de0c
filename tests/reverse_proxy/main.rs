//! End-to-end behind a real reverse proxy: the binary runs with `--query.base-path=/jaeger`
//! behind Debian's nginx proxying `/jaeger/`, as Jaeger's deployment guide sets it up.
//! Through the proxy: the UI page at `/jaeger` and `/jaeger/`, its static assets, the
//! API with traces ingested over OTLP, 404s for unknown API paths. Then the embedded UI
//! in a headless Chromium (driven by playwright-core, `tests/browser/ui.mjs`): at
//! `/jaeger/` through the proxy, and at `/` on a second binary that also holds a
//! 10,000-span trace and a UI config file.
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
/// A second checkout trace, one span more and an error, to compare with the first.
const TRACE_B: &str = "7d3a1c9e5b2f40618a9c0d1e2f3a4b5d";
/// Calls in the previous whole hour, for the dependencies job to count.
const TRACE_DEPS: &str = "0dde9000000000000000000000000001";
/// 10,000 spans: the large-trace benchmark (at base path `/` only).
const TRACE_LARGE: &str = "1a2e000000000000000000000000000a";
const LARGE_SPANS: usize = 10_000;

/// The large trace's size: LARGE_SPANS, or `UI_LARGE_SPANS` for a benchmark run (e.g.
/// 100000; docs/benchmarks.md).
fn large_spans() -> usize {
    std::env::var("UI_LARGE_SPANS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(LARGE_SPANS)
}
const SERVICE: &str = "proxy-frontend";
const SPANS: [&str; 4] = [
    "GET /checkout",
    "charge card",
    "SELECT orders",
    "render page",
];
/// "charge card": on another host whose clock runs 500 ms behind, so it starts before
/// its parent; the adjuster moves it (and its same-host child) by +530ms.
const SKEWED_SPAN: &str = "00000000000000a1";
const SKEW: &str = "530ms";
/// The root instance's UI config menu link.
const MENU_URL: &str = "https://runbook.example/jaeger";

struct Fixture {
    // Dropped in this order: the proxy first, then the backends.
    nginx: Nginx,
    jaeger: Jaeger,
    /// The same data at base path `/`, with a UI config file.
    root: Jaeger,
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

fn resource(svc: &str, host: &str, spans: Vec<Value>) -> Value {
    json!({"resource": {"attributes": [
              {"key": "service.name", "value": {"stringValue": svc}},
              {"key": "host.name", "value": {"stringValue": host}}]},
           "scopeSpans": [{"scope": {"name": "ui-test"}, "spans": spans}]})
}

/// `off` ms after `start` (negative: before), in ns.
fn at(start: u64, off: i64) -> i64 {
    start as i64 + off * 1_000_000
}

/// A span starting at `s` ns and lasting `dur` ms.
fn span(trace: &str, id: u64, parent: u64, name: &str, kind: u8, s: i64, dur: u64) -> Value {
    let ms = 1_000_000i64;
    json!({"traceId": trace, "spanId": format!("{id:016x}"),
           "parentSpanId": if parent == 0 { String::new() } else { format!("{parent:016x}") },
           "name": name, "kind": kind,
           "startTimeUnixNano": s.to_string(),
           "endTimeUnixNano": (s + dur as i64 * ms).to_string()})
}

/// The checkout traces (A with a clock-skewed child, B with an extra failing query),
/// and the previous hour's calls for the dependency graph.
fn otlp_traces() -> Value {
    let start = now_nanos() - 2_000_000_000;
    let mut root_a = span(TRACE_ID, 0xa0, 0, SPANS[0], 2, at(start, 0), 120);
    root_a["attributes"] = json!([{"key": "http.method", "value": {"stringValue": "GET"}},
                                  {"key": "customer.tier", "value": {"stringValue": "silver"}}]);
    let mut render = span(TRACE_ID, 0xa3, 0xa0, SPANS[3], 1, at(start, 90), 20);
    render["events"] = json!([{"timeUnixNano": (start + 95_000_000).to_string(), "name": "template rendered",
                               "attributes": [{"key": "template", "value": {"stringValue": "checkout.html"}}]}]);
    // A link from the render span to trace B: a reference that navigates.
    render["links"] = json!([{"traceId": TRACE_B, "spanId": format!("{:016x}", 0xb0)}]);
    let b_start = start - 1_000_000_000;
    let mut root_b = span(TRACE_B, 0xb0, 0, SPANS[0], 2, at(b_start, 0), 300);
    root_b["attributes"] = json!([{"key": "customer.tier", "value": {"stringValue": "gold"}}]);
    let mut failing = span(TRACE_B, 0xb3, 0xb1, SPANS[2], 3, at(b_start, 150), 100);
    failing["status"] = json!({"code": 2, "message": "deadlock detected"});
    let hour = 3_600_000_000_000u64;
    let d = now_nanos() / hour * hour - hour / 2;
    json!({"resourceSpans": [
        resource(SERVICE, "web-1", vec![root_a, render]),
        resource("proxy-payments", "pay-1", vec![
            span(TRACE_ID, 0xa1, 0xa0, SPANS[1], 2, at(start, -500), 60),
            span(TRACE_ID, 0xa2, 0xa1, SPANS[2], 3, at(start, -490), 15)]),
        resource(SERVICE, "web-1", vec![root_b, span(TRACE_B, 0xb4, 0xb0, SPANS[3], 1, at(b_start, 260), 30)]),
        resource("proxy-payments", "pay-1", vec![
            span(TRACE_B, 0xb1, 0xb0, SPANS[1], 2, at(b_start, 10), 250),
            span(TRACE_B, 0xb2, 0xb1, SPANS[2], 3, at(b_start, 20), 100), failing]),
        resource(SERVICE, "web-1", vec![span(TRACE_DEPS, 0xd0, 0, "GET /cart", 2, at(d, 0), 50),
                                        span(TRACE_DEPS, 0xd1, 0xd0, "call payments", 3, at(d, 1), 40),
                                        span(TRACE_DEPS, 0xd3, 0xd0, "call inventory", 3, at(d, 2), 10)]),
        resource("proxy-payments", "pay-1", vec![span(TRACE_DEPS, 0xd2, 0xd1, "charge", 2, at(d, 2), 30),
                                                 span(TRACE_DEPS, 0xd5, 0xd2, "reserve", 3, at(d, 3), 10)]),
        resource("proxy-inventory", "inv-1", vec![span(TRACE_DEPS, 0xd4, 0xd3, "stock", 2, at(d, 3), 5),
                                                  span(TRACE_DEPS, 0xd6, 0xd5, "reserve", 2, at(d, 4), 5)]),
    ]})
}

/// TRACE_LARGE: a 4-ary tree of `n` spans over 5 services, as OTLP requests of at most
/// 10,000 spans each.
fn otlp_large_trace(n: usize) -> Vec<Value> {
    let start = now_nanos() - 5_000_000_000;
    let us = 1_000u64;
    let services = [
        "large-gateway",
        "large-auth",
        "large-orders",
        "large-stock",
        "large-db",
    ];
    let mut requests = Vec::new();
    let mut by_service: Vec<Vec<Value>> = vec![Vec::new(); services.len()];
    let end = start + n as u64 * 50 * us;
    for i in 0..n {
        let s = start + i as u64 * 50 * us;
        // A span with children lasts until the trace ends; a leaf 1 ms.
        let dur = if 4 * i + 1 < n { end - s } else { 1_000 * us };
        let parent = if i == 0 {
            String::new()
        } else {
            format!("{:016x}", 0x1000 + (i - 1) / 4)
        };
        by_service[i % services.len()].push(json!({
            "traceId": TRACE_LARGE, "spanId": format!("{:016x}", 0x1000 + i), "parentSpanId": parent,
            "name": format!("op-{}", i % 37), "kind": 2,
            "startTimeUnixNano": s.to_string(), "endTimeUnixNano": (s + dur).to_string(),
            "attributes": [{"key": "i", "value": {"intValue": i.to_string()}}]}));
        if (i + 1) % 10_000 == 0 || i + 1 == n {
            let rs: Vec<Value> = services
                .iter()
                .zip(by_service.iter_mut())
                .filter(|(_, spans)| !spans.is_empty())
                .map(|(svc, spans)| resource(svc, svc, std::mem::take(spans)))
                .collect();
            requests.push(json!({ "resourceSpans": rs }));
        }
    }
    requests
}

fn post_otlp(j: &Jaeger, body: &Value) -> Result<(), String> {
    let r = reqwest::blocking::Client::new()
        .post(j.otlp_http_url())
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .map_err(|e| e.to_string())?;
    if !r.status().is_success() {
        return Err(format!("OTLP export answered {}", r.status()));
    }
    Ok(())
}

/// Waits until `url` answers 200 with a body that `ready` accepts.
fn wait_for(url: &str, ready: impl Fn(&Value) -> bool) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = reqwest::blocking::get(url).map_err(|e| e.to_string())?;
        if r.status() == 200 && r.json::<Value>().is_ok_and(|v| ready(&v)) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("{url} never became ready"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn start_jaeger(dir: &Path, name: &str, args: &[String]) -> Result<Jaeger, String> {
    let mut b = JaegerBuilder::new(&dir.join(name))
        .arg("--storage=memory")
        .arg("--query.max-clock-skew-adjustment=1h")
        // The in-process dependencies job, every 2 s, over the previous whole hour.
        .arg("--dependencies.schedule=*/2 * * * * *")
        .arg("--dependencies.lookback=1h");
    for a in args {
        b = b.arg(a.clone());
    }
    let j = b.start();
    post_otlp(&j, &otlp_traces())?;
    Ok(j)
}

fn wait_ready(j: &Jaeger, base: &str, large: bool) -> Result<(), String> {
    for id in [TRACE_ID, TRACE_B, TRACE_DEPS] {
        wait_for(&j.query_url(&format!("{base}/api/traces/{id}")), |_| true)?;
    }
    if large {
        wait_for(
            &j.query_url(&format!("{base}/api/traces/{TRACE_LARGE}")),
            |v| v["data"][0]["spans"].as_array().map(Vec::len) == Some(large_spans()),
        )?;
    }
    let deps = format!("{base}/api/dependencies?lookback=604800000");
    wait_for(&j.query_url(&deps), |v| {
        v["data"].as_array().is_some_and(|d| d.len() >= 3)
    })
}

impl Fixture {
    fn start() -> Result<Fixture, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let ui_config = dir.path().join("ui-config.json");
        std::fs::write(
            &ui_config,
            json!({"menu": [{"label": "Runbook", "url": MENU_URL}],
                   "dependencies": {"menuEnabled": false},
                   "search": {"defaultLookback": "2h",
                              "maxLookback": {"label": "12 hours", "value": "12h"}}})
            .to_string(),
        )
        .map_err(|e| e.to_string())?;
        // Archive storage behind the proxy: the UI's Archive button posts under /jaeger.
        let jaeger = start_jaeger(
            dir.path(),
            "proxied",
            &[
                "--query.base-path=/jaeger".into(),
                "--query.archive=memory".into(),
            ],
        )?;
        let root = start_jaeger(
            dir.path(),
            "root",
            &[format!("--query.ui-config={}", ui_config.display())],
        )?;
        for request in otlp_large_trace(large_spans()) {
            post_otlp(&root, &request)?;
        }
        wait_ready(&jaeger, "/jaeger", false)?;
        wait_ready(&root, "", true)?;
        let nginx = Nginx::start("/jaeger/", jaeger.ports.query)?;
        Ok(Fixture {
            nginx,
            jaeger,
            root,
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
        .get(&format!(
            "/jaeger/api/traces?service={SERVICE}&operation=GET%20/checkout&limit=5"
        ))?
        .json()?;
    let mut found: Vec<&str> = search["data"]
        .as_array()
        .ok_or("no data")?
        .iter()
        .filter_map(|t| t["traceID"].as_str())
        .collect();
    found.sort_unstable();
    check(found == [TRACE_ID, TRACE_B], || format!("{search}"))?;
    let v3: Value = f.get("/jaeger/api/v3/services")?.json()?;
    check(v3["services"].as_array().map(Vec::len) == Some(3), || {
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

/// Runs `tests/browser/ui.mjs` (headless Chromium via playwright-core) against `url`;
/// returns its stdout. Screenshots go to `tests/output/browser/<label>/`.
fn run_browser(f: &Fixture, url: &str, label: &str, large: bool) -> Result<String, Failed> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/browser/ui.mjs");
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .is_dir()
    {
        return Err("playwright-core is not installed: run scripts/test, or \
             npm ci --prefix tests/browser"
            .into());
    }
    // One browser at a time: two compete for 2 cores and skew the render timing.
    static BROWSER: Mutex<()> = Mutex::new(());
    let _one = BROWSER.lock().unwrap_or_else(|p| p.into_inner());
    let out_dir = root.join("tests/output/browser").join(label);
    std::fs::create_dir_all(&out_dir)?;
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .env("UI_URL", url)
        .env("LABEL", label)
        .env("SERVICE", SERVICE)
        .env("TRACE_A", TRACE_ID)
        .env("TRACE_B", TRACE_B)
        .env("SKEWED_SPAN", SKEWED_SPAN)
        .env("SKEW", SKEW)
        .env("OUT_DIR", &out_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if large {
        // The root instance: its UI config file, no archive storage.
        cmd.env("TRACE_LARGE", TRACE_LARGE)
            .env("LARGE_SPANS", large_spans().to_string())
            .env("UI_CONFIG_MENU", "Runbook")
            .env("UI_CONFIG_MENU_URL", MENU_URL)
            .env("UI_CONFIG_LOOKBACK", "2h")
            .env("UI_CONFIG_MAX_LOOKBACK", "12h")
            .env("DEPS_DISABLED", "1");
    } else {
        cmd.env("ARCHIVE", "1");
    }
    let mut child = cmd.spawn()?;
    // The script has its own timeouts; this only guards against a hung browser.
    // (longer for a 100,000-span UI_LARGE_SPANS run).
    let deadline = Instant::now() + Duration::from_secs(180 + 3 * (large_spans() / 1000) as u64);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output()?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    check(out.status.success(), || {
        format!(
            "{} failed at {url} ({}):\n{text}\njaeger log:\n{}\n{}",
            script.display(),
            out.status,
            f.jaeger.logs(),
            f.nginx.logs()
        )
    })?;
    print!("{stdout}");
    Ok(stdout)
}

/// The whole UI at `/jaeger/` behind nginx: search, trace view, clock-skew toggle,
/// download and open JSON, compare, dependency graph, lookup, statistics and flame
/// graph views, archiving (this instance has archive storage), theme, embed mode.
fn browser_ui_behind_proxy_at_jaeger() -> Result<(), Failed> {
    let f = fixture()?;
    run_browser(&f, &f.nginx.url("/jaeger/"), "jaeger", false).map(drop)
}

/// The same at base path `/`, plus the UI config file (menu link, default and maximum
/// lookback, dependencies page off), no Archive button (no archive storage), and the
/// 10,000-span trace: time to first render, virtualised scrolling, the other views.
fn browser_ui_at_root_and_large_trace() -> Result<(), Failed> {
    let f = fixture()?;
    run_browser(&f, &f.root.query_url("/"), "root", true).map(drop)
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
    let browser = [
        Trial::test(
            "browser_ui_behind_proxy_at_jaeger",
            browser_ui_behind_proxy_at_jaeger,
        ),
        Trial::test(
            "browser_ui_at_root_and_large_trace",
            browser_ui_at_root_and_large_trace,
        ),
    ];
    let node = node_available();
    if !node {
        eprintln!("browser tests skipped: `node` is not installed");
    }
    trials.extend(browser.into_iter().map(|t| t.with_ignored_flag(!node)));
    let conclusion = libtest_mimic::run(&args, trials);
    // Every test is done: stop nginx, then jaeger.
    drop(FIXTURE.lock().unwrap_or_else(|p| p.into_inner()).take());
    conclusion.exit_code()
}
