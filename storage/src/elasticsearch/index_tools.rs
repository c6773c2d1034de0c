//! Jaeger's index maintenance tools (storage spec §2.12, §2.13): the index cleaner
//! (delete indices created more than N days ago) and es-rollover (`init`, `rollover`,
//! `lookback` of the `…-read`/`…-write` aliases).

use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

use super::templates::{self, Flavor, IndexSettings};
use super::{EsClient, Method};
use crate::{Result, StorageError};

/// Options of the index cleaner.
#[derive(Clone, Debug)]
pub struct CleanerOptions {
    pub num_days: u32,
    /// `--index-prefix` as given (`p` becomes `p-`).
    pub index_prefix: String,
    pub date_separator: String,
    /// Match rollover indices (`…-000001`) instead of dated ones.
    pub rollover: bool,
    /// Match only `jaeger-span-archive-000001`-style indices.
    pub archive: bool,
    /// Cutoff `now − N days` instead of `tomorrow 00:00 − N days`.
    pub relative: bool,
    /// Master timeout of the delete request.
    pub master_timeout: std::time::Duration,
}

const KINDS: [&str; 4] = ["span", "service", "dependencies", "sampling"];

fn digits(s: &str, n: usize) -> Option<&str> {
    (s.len() >= n && s.as_bytes()[..n].iter().all(u8::is_ascii_digit)).then(|| &s[n..])
}

/// Whether `name` is an index the cleaner may delete, by the rules of the options.
pub fn cleaner_matches(opts: &CleanerOptions, name: &str) -> bool {
    let prefix = templates::prefix_of(&opts.index_prefix);
    let Some(rest) = name
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_prefix("jaeger-"))
    else {
        return false;
    };
    if opts.archive {
        return rest
            .strip_prefix("span-archive-")
            .and_then(|r| digits(r, 6))
            .is_some();
    }
    let Some(rest) = KINDS
        .iter()
        .find_map(|k| rest.strip_prefix(k).and_then(|r| r.strip_prefix('-')))
    else {
        return false;
    };
    if opts.rollover {
        return digits(rest, 6).is_some();
    }
    let sep = opts.date_separator.as_str();
    digits(rest, 4)
        .and_then(|r| r.strip_prefix(sep))
        .and_then(|r| digits(r, 2))
        .and_then(|r| r.strip_prefix(sep))
        .and_then(|r| digits(r, 2))
        .is_some()
}

fn tomorrow_midnight(now: DateTime<Utc>) -> DateTime<Utc> {
    let day = now.date_naive() + ChronoDuration::days(1);
    day.and_hms_opt(0, 0, 0).expect("midnight exists").and_utc()
}

/// One index as listed by `GET /<pattern>?flat_settings=true`.
#[derive(Clone, Debug)]
struct IndexInfo {
    name: String,
    created_ms: i64,
    aliases: Vec<String>,
}

async fn list_indices(client: &EsClient, pattern: &str) -> Result<Vec<IndexInfo>> {
    let q = [
        ("flat_settings", "true".to_string()),
        ("filter_path", "*.aliases,*.settings".to_string()),
    ];
    let (status, v) = client
        .send(Method::Get, &format!("/{pattern}"), &q, None, false)
        .await?;
    if status == 404 {
        return Ok(Vec::new());
    }
    let v = super::check(pattern, status, v)?;
    let Some(map) = v.as_object() else {
        return Ok(Vec::new());
    };
    Ok(map
        .iter()
        .map(|(name, info)| IndexInfo {
            name: name.clone(),
            created_ms: info["settings"]["index.creation_date"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| info["settings"]["index.creation_date"].as_i64())
                .unwrap_or(i64::MAX),
            aliases: info["aliases"]
                .as_object()
                .map(|a| a.keys().cloned().collect())
                .unwrap_or_default(),
        })
        .collect())
}

/// Deletes the matching indices created before the cutoff; returns their names (sorted).
pub async fn clean_indices(
    client: &EsClient,
    opts: &CleanerOptions,
    now: DateTime<Utc>,
) -> Result<Vec<String>> {
    let prefix = templates::prefix_of(&opts.index_prefix);
    let days = ChronoDuration::days(i64::from(opts.num_days));
    let cutoff = if opts.relative {
        now - days
    } else {
        tomorrow_midnight(now) - days
    };
    let mut doomed: Vec<String> = list_indices(client, &format!("{prefix}jaeger-*"))
        .await?
        .into_iter()
        .filter(|i| cleaner_matches(opts, &i.name))
        // An index that takes writes now is never deleted.
        .filter(|i| !i.aliases.iter().any(|a| a.ends_with("-write")))
        .filter(|i| i.created_ms < cutoff.timestamp_millis())
        .map(|i| i.name)
        .collect();
    doomed.sort();
    if !doomed.is_empty() {
        let secs = opts.master_timeout.as_secs().max(1);
        client
            .json(
                Method::Delete,
                &format!("/{}", doomed.join(",")),
                &[("master_timeout", format!("{secs}s"))],
                None,
            )
            .await?;
    }
    Ok(doomed)
}

/// Options of es-rollover.
#[derive(Clone, Debug)]
pub struct RolloverOptions {
    pub index_prefix: String,
    /// Only the `jaeger-span-archive` set.
    pub archive: bool,
    pub skip_dependencies: bool,
    pub adaptive_sampling: bool,
    pub shards: u32,
    pub replicas: u32,
    /// Mark the write alias `is_write_index` (ILM/ISM managed).
    pub use_ilm: bool,
    /// Rollover conditions, e.g. `{"max_age": "2d"}`.
    pub conditions: Value,
    /// Lookback unit: minutes, hours, days, weeks, months, years.
    pub unit: String,
    pub unit_count: u32,
}

/// `--conditions`: a JSON object such as `{"max_age": "2d"}`.
pub fn parse_conditions(s: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(s) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(StorageError::InvalidQuery(format!(
            "conditions {s:?}: not a JSON object"
        ))),
        Err(e) => Err(StorageError::InvalidQuery(format!("conditions {s:?}: {e}"))),
    }
}

fn dependencies_mapping() -> Value {
    let kw = json!({"type": "keyword", "ignore_above": 256});
    json!({"properties": {
        "timestamp": {"type": "date"},
        "dependencies": {"type": "nested", "properties": {
            "parent": kw, "child": kw, "callCount": {"type": "long"}, "source": kw}}
    }})
}

fn sampling_mapping() -> Value {
    json!({"properties": {"timestamp": {"type": "date"}}})
}

/// `(base name, mapping)` of every index set the options cover.
fn index_sets(opts: &RolloverOptions) -> Vec<(String, Value)> {
    let p = templates::prefix_of(&opts.index_prefix);
    if opts.archive {
        return vec![(format!("{p}jaeger-span-archive"), templates::span_mapping())];
    }
    let mut v = vec![
        (format!("{p}jaeger-span"), templates::span_mapping()),
        (format!("{p}jaeger-service"), templates::service_mapping()),
    ];
    if !opts.skip_dependencies {
        v.push((format!("{p}jaeger-dependencies"), dependencies_mapping()));
    }
    if opts.adaptive_sampling {
        v.push((format!("{p}jaeger-sampling"), sampling_mapping()));
    }
    v
}

async fn exists(client: &EsClient, path: &str) -> Result<bool> {
    let (status, v) = client.send(Method::Head, path, &[], None, false).await?;
    match status {
        200..=299 => Ok(true),
        404 => Ok(false),
        _ => super::check(path, status, v).map(|_| false),
    }
}

async fn add_alias(client: &EsClient, index: &str, alias: &str, is_write: bool) -> Result<()> {
    let mut add = json!({"index": index, "alias": alias});
    if is_write {
        add["is_write_index"] = json!(true);
    }
    client
        .json(
            Method::Post,
            "/_aliases",
            &[],
            Some(&json!({"actions": [{"add": add}]})),
        )
        .await
        .map(|_| ())
}

async fn flavor(client: &EsClient) -> Result<Flavor> {
    let root = client.json(Method::Get, "/", &[], None).await?;
    Ok(Flavor::detect(&root))
}

/// Installs the templates, creates `…-000001` and the read and write aliases where
/// missing. Returns the write indices created.
pub async fn rollover_init(client: &EsClient, opts: &RolloverOptions) -> Result<Vec<String>> {
    let flavor = flavor(client).await?;
    let settings = IndexSettings {
        shards: opts.shards,
        replicas: opts.replicas,
        priority: 0,
    };
    let mut created = Vec::new();
    for (base, mapping) in index_sets(opts) {
        let body = templates::template_body(flavor, &base, &settings, mapping);
        client
            .json(
                Method::Put,
                &templates::template_path(flavor, &base),
                &[],
                Some(&body),
            )
            .await?;
        let first = format!("{base}-000001");
        let (read, write) = (format!("{base}-read"), format!("{base}-write"));
        if !exists(client, &format!("/{first}")).await?
            && !exists(client, &format!("/_alias/{write}")).await?
        {
            client
                .json(Method::Put, &format!("/{first}"), &[], None)
                .await?;
            created.push(first.clone());
        }
        if !exists(client, &format!("/_alias/{read}")).await? {
            add_alias(client, &first, &read, false).await?;
        }
        if !exists(client, &format!("/_alias/{write}")).await? {
            add_alias(client, &first, &write, opts.use_ilm).await?;
        }
    }
    Ok(created)
}

/// Indices that hold `alias`.
async fn alias_indices(client: &EsClient, alias: &str) -> Result<Vec<String>> {
    let (status, v) = client
        .send(Method::Get, &format!("/_alias/{alias}"), &[], None, false)
        .await?;
    if status == 404 {
        return Ok(Vec::new());
    }
    let v = super::check(alias, status, v)?;
    let mut names: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    names.sort();
    Ok(names)
}

/// Rolls every write alias over under the conditions, then adds the read alias to the
/// indices that hold the write alias. Returns `(old, new)` for each rolled-over set.
pub async fn rollover(client: &EsClient, opts: &RolloverOptions) -> Result<Vec<(String, String)>> {
    let mut rolled = Vec::new();
    for (base, _) in index_sets(opts) {
        let (read, write) = (format!("{base}-read"), format!("{base}-write"));
        let v = client
            .json(
                Method::Post,
                &format!("/{write}/_rollover/"),
                &[],
                Some(&json!({"conditions": opts.conditions})),
            )
            .await?;
        if v["rolled_over"].as_bool() == Some(true) {
            rolled.push((
                v["old_index"].as_str().unwrap_or_default().to_string(),
                v["new_index"].as_str().unwrap_or_default().to_string(),
            ));
        }
        let readers = alias_indices(client, &read).await?;
        for index in alias_indices(client, &write).await? {
            if !readers.contains(&index) {
                add_alias(client, &index, &read, false).await?;
            }
        }
    }
    Ok(rolled)
}

/// The lookback cutoff: minutes/hours from now, day-based units from tomorrow midnight.
pub fn lookback_cutoff(unit: &str, count: u32, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let n = i64::from(count);
    let midnight = tomorrow_midnight(now);
    Ok(match unit {
        "minutes" => now - ChronoDuration::minutes(n),
        "hours" => now - ChronoDuration::hours(n),
        "days" => midnight - ChronoDuration::days(n),
        "weeks" => midnight - ChronoDuration::weeks(n),
        "months" => midnight
            .checked_sub_months(chrono::Months::new(count))
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        "years" => midnight
            .checked_sub_months(chrono::Months::new(count.saturating_mul(12)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC),
        other => {
            return Err(StorageError::InvalidQuery(format!(
                "unit {other:?}: expected minutes, hours, days, weeks, months or years"
            )));
        }
    })
}

/// Removes from each read alias the indices (except write indices) created before the
/// lookback cutoff. Returns `(index, alias)` pairs removed.
pub async fn lookback(
    client: &EsClient,
    opts: &RolloverOptions,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>> {
    let cutoff = lookback_cutoff(&opts.unit, opts.unit_count, now)?.timestamp_millis();
    let mut removed = Vec::new();
    for (base, _) in index_sets(opts) {
        let (read, write) = (format!("{base}-read"), format!("{base}-write"));
        let mut old: Vec<String> = list_indices(client, &format!("{base}-*"))
            .await?
            .into_iter()
            .filter(|i| i.aliases.contains(&read) && !i.aliases.contains(&write))
            .filter(|i| i.created_ms < cutoff)
            .map(|i| i.name)
            .collect();
        old.sort();
        if old.is_empty() {
            continue;
        }
        let actions: Vec<Value> = old
            .iter()
            .map(|i| json!({"remove": {"index": i, "alias": read}}))
            .collect();
        client
            .json(
                Method::Post,
                "/_aliases",
                &[],
                Some(&json!({"actions": actions})),
            )
            .await?;
        removed.extend(old.into_iter().map(|i| (i, read.clone())));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> CleanerOptions {
        CleanerOptions {
            num_days: 1,
            index_prefix: "p".into(),
            date_separator: "-".into(),
            rollover: false,
            archive: false,
            relative: false,
            master_timeout: std::time::Duration::from_secs(120),
        }
    }

    #[test]
    fn cleaner_name_rules() {
        let o = opts();
        assert!(cleaner_matches(&o, "p-jaeger-span-2024-01-02"));
        assert!(cleaner_matches(&o, "p-jaeger-dependencies-2024-01-02"));
        assert!(!cleaner_matches(&o, "jaeger-span-2024-01-02"));
        assert!(!cleaner_matches(&o, "p-jaeger-span-000001"));
        assert!(!cleaner_matches(&o, "p-jaeger-span-archive"));
        let dots = CleanerOptions {
            date_separator: ".".into(),
            ..opts()
        };
        assert!(cleaner_matches(&dots, "p-jaeger-service-2024.01.02"));
        let r = CleanerOptions {
            rollover: true,
            ..opts()
        };
        assert!(cleaner_matches(&r, "p-jaeger-span-000003"));
        assert!(!cleaner_matches(&r, "p-jaeger-span-2024-01-02"));
        let a = CleanerOptions {
            archive: true,
            ..opts()
        };
        assert!(cleaner_matches(&a, "p-jaeger-span-archive-000001"));
        assert!(!cleaner_matches(&a, "p-jaeger-span-000001"));
    }

    #[test]
    fn lookback_cutoffs() {
        let now = DateTime::parse_from_rfc3339("2024-03-10T15:30:00Z")
            .expect("valid")
            .with_timezone(&Utc);
        let c = |u, n| lookback_cutoff(u, n, now).expect("unit").to_rfc3339();
        assert_eq!(c("minutes", 30), "2024-03-10T15:00:00+00:00");
        assert_eq!(c("days", 1), "2024-03-10T00:00:00+00:00");
        assert_eq!(c("weeks", 1), "2024-03-04T00:00:00+00:00");
        assert_eq!(c("months", 1), "2024-02-11T00:00:00+00:00");
        assert!(lookback_cutoff("fortnights", 1, now).is_err());
    }
}
