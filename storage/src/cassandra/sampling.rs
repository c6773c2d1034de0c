//! Adaptive sampling on Jaeger's Cassandra tables (storage spec §1.9), so that Jaeger's
//! collectors and ours share throughput, probabilities and the leader lease:
//!
//! - `operation_throughput(bucket int, ts timeuuid, throughput text)`: bucket = the
//!   writer's clock nanoseconds mod 10, `ts` = TimeUUID of the interval's timestamp,
//!   `throughput` = CSV lines `service,operation,count,"p1,p2,..."`.
//! - `sampling_probabilities(bucket int, ts timeuuid, hostname text, probabilities
//!   text)`: bucket 1, CSV lines `service,operation,probability,qps`; the newest row
//!   (clustering order `ts DESC`) is the latest.
//! - `leases(name text, owner text)`: lightweight transactions, as Jaeger's
//!   `distributedlock/cassandra`: `INSERT ... IF NOT EXISTS USING TTL`, renewal `UPDATE
//!   ... USING TTL SET owner WHERE name IF owner`, release `DELETE ... IF owner`.
//!
//! TimeUUIDs carry 100 ns ticks, so throughput timestamps are kept at that precision.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::{CqlTimeuuid, CqlValue, Row};

use super::{CassandraConfig, Layout, connect, schema, unavailable};
use crate::sampling::{SamplingStore, ServiceOperationValues, Throughput, ThroughputBucket};
use crate::{Result, StorageError};

/// 100 ns intervals between 1582-10-15 (the UUID epoch) and 1970-01-01.
const UUID_EPOCH_OFFSET: u64 = 0x01B2_1DD2_1381_4000;
/// `sampling_probabilities` keeps every row in one partition (Jaeger's `constBucket`).
const PROBABILITIES_BUCKET: i32 = 1;
/// `operation_throughput` spreads rows over this many partitions.
const THROUGHPUT_BUCKETS: u32 = 10;

/// TimeUUIDs of this process: a random node id, a sequence in the clock-sequence
/// field (orders rows stamped with the same tick), and strictly increasing ticks for
/// "now" (the newest probabilities row is the one written last).
struct TimeUuids {
    node: [u8; 6],
    seq: AtomicU16,
    last_now: Mutex<u64>,
}

impl TimeUuids {
    fn new() -> Self {
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
            .to_be_bytes();
        let mut node = [0u8; 6];
        node.copy_from_slice(&random[..6]);
        // Multicast bit: a random node id, not a MAC address (RFC 4122 §4.5).
        node[0] |= 0x01;
        Self {
            node,
            // Starts in the lower half: wrapping past 0x3fff (and reordering rows of one
            // tick) takes thousands of rows.
            seq: AtomicU16::new(u16::from_be_bytes([random[6], random[7]]) & 0x1fff),
            last_now: Mutex::new(0),
        }
    }

    fn at_tick(&self, tick: u64) -> CqlTimeuuid {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) & 0x3fff;
        let mut lsb = [0u8; 8];
        lsb[0] = 0x80 | (seq >> 8) as u8;
        lsb[1] = seq as u8;
        lsb[2..].copy_from_slice(&self.node);
        uuid_of(tick, lsb)
    }

    fn at(&self, unix_nanos: u64) -> CqlTimeuuid {
        self.at_tick(tick_of(unix_nanos))
    }

    fn now(&self) -> CqlTimeuuid {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let tick = {
            let mut last = self.last_now.lock().unwrap_or_else(|e| e.into_inner());
            *last = tick_of(now).max(*last + 1);
            *last
        };
        self.at_tick(tick)
    }
}

fn tick_of(unix_nanos: u64) -> u64 {
    unix_nanos / 100 + UUID_EPOCH_OFFSET
}

/// A version-1 UUID of `tick` with these clock-sequence and node bytes.
fn uuid_of(tick: u64, lsb: [u8; 8]) -> CqlTimeuuid {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&(tick as u32).to_be_bytes());
    b[4..6].copy_from_slice(&((tick >> 32) as u16).to_be_bytes());
    b[6..8].copy_from_slice(&((((tick >> 48) as u16) & 0x0fff) | 0x1000).to_be_bytes());
    b[8..].copy_from_slice(&lsb);
    CqlTimeuuid::from_slice(&b).expect("16 bytes make a UUID")
}

/// The smallest TimeUUID of a tick in Cassandra's order (Cassandra's `minTimeuuid`:
/// clock sequence and node compare as signed bytes, 0x80 is the least).
fn min_uuid(tick: u64) -> CqlTimeuuid {
    uuid_of(tick, [0x80; 8])
}

/// (tick, clock sequence) of a TimeUUID.
fn uuid_time(u: &CqlTimeuuid) -> (u64, u16) {
    let b = u.as_bytes();
    let low = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u64;
    let mid = u16::from_be_bytes([b[4], b[5]]) as u64;
    let high = (u16::from_be_bytes([b[6], b[7]]) & 0x0fff) as u64;
    let seq = u16::from_be_bytes([b[8], b[9]]) & 0x3fff;
    (low | mid << 32 | high << 48, seq)
}

fn unix_nanos_of_tick(tick: u64) -> u64 {
    tick.saturating_sub(UUID_EPOCH_OFFSET).saturating_mul(100)
}

/// One CSV record as Go's `encoding/csv` writes it (quoted only when needed).
fn csv_line(out: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let quote = !f.is_empty()
            && (f.contains([',', '"', '\r', '\n'])
                || f.starts_with(char::is_whitespace)
                || *f == r"\.");
        if quote {
            out.push('"');
            out.push_str(&f.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(f);
        }
    }
    out.push('\n');
}

/// Records of a CSV text (RFC 4180, as Go's reader: blank lines skipped, strict quotes).
fn csv_records(text: &str) -> Result<Vec<Vec<String>>> {
    let bad = |why: &str| StorageError::Corrupt(format!("cassandra sampling CSV: {why}"));
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    while chars.peek().is_some() {
        let mut record = Vec::new();
        let mut field = String::new();
        let mut line_empty = true;
        loop {
            match chars.next() {
                None => {
                    if !line_empty {
                        record.push(std::mem::take(&mut field));
                    }
                    break;
                }
                Some('\n') => {
                    if !line_empty {
                        record.push(std::mem::take(&mut field));
                    }
                    break;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some(',') => {
                    line_empty = false;
                    record.push(std::mem::take(&mut field));
                }
                Some('"') if field.is_empty() => {
                    line_empty = false;
                    loop {
                        match chars.next() {
                            None => return Err(bad("unterminated quoted field")),
                            Some('"') if chars.peek() == Some(&'"') => {
                                chars.next();
                                field.push('"');
                            }
                            Some('"') => break,
                            Some(c) => field.push(c),
                        }
                    }
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(_) => return Err(bad("text after a closing quote")),
                    }
                }
                Some('"') => return Err(bad("bare quote in a field")),
                Some(c) => {
                    line_empty = false;
                    field.push(c);
                }
            }
        }
        if !record.is_empty() {
            records.push(record);
        }
    }
    Ok(records)
}

/// `operation_throughput.throughput` of one interval.
pub fn throughput_to_csv(throughput: &[Throughput]) -> String {
    let mut out = String::new();
    for t in throughput {
        let probabilities = t
            .probabilities
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(",");
        csv_line(
            &mut out,
            &[
                &t.service,
                &t.operation,
                &t.count.to_string(),
                &probabilities,
            ],
        );
    }
    out
}

pub fn throughput_from_csv(text: &str) -> Result<Vec<Throughput>> {
    csv_records(text)?
        .into_iter()
        .map(|r| {
            let [service, operation, count, probabilities]: [String; 4] =
                r.try_into().map_err(|_| {
                    StorageError::Corrupt("cassandra throughput: incomplete throughput data".into())
                })?;
            let count = count.parse::<i64>().map_err(|e| {
                StorageError::Corrupt(format!("cassandra throughput count {count:?}: {e}"))
            })?;
            Ok(Throughput {
                service,
                operation,
                count,
                probabilities: probabilities
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
        })
        .collect()
}

/// `sampling_probabilities.probabilities`: one line per probability, with its QPS
/// (Go's `FormatFloat(v, 'f', -1, 64)`, which Rust's `Display` matches for finite values).
pub fn probabilities_to_csv(
    probabilities: &ServiceOperationValues,
    qps: &ServiceOperationValues,
) -> String {
    let mut services: Vec<_> = probabilities.iter().collect();
    services.sort_by(|a, b| a.0.cmp(b.0));
    let mut out = String::new();
    for (service, ops) in services {
        let mut ops: Vec<_> = ops.iter().collect();
        ops.sort_by(|a, b| a.0.cmp(b.0));
        for (op, p) in ops {
            let q = qps
                .get(service)
                .and_then(|o| o.get(op))
                .copied()
                .unwrap_or(0.0);
            csv_line(&mut out, &[service, op, &p.to_string(), &q.to_string()]);
        }
    }
    out
}

pub fn probabilities_from_csv(text: &str) -> Result<ServiceOperationValues> {
    let mut out: ServiceOperationValues = HashMap::new();
    for r in csv_records(text)? {
        let [service, operation, probability, _qps]: [String; 4] = r.try_into().map_err(|_| {
            StorageError::Corrupt("cassandra probabilities: incomplete probabilities data".into())
        })?;
        let p = probability.parse::<f64>().map_err(|e| {
            StorageError::Corrupt(format!("cassandra probability {probability:?}: {e}"))
        })?;
        out.entry(service).or_default().insert(operation, p);
    }
    Ok(out)
}

struct Statements {
    insert_throughput: PreparedStatement,
    select_throughput: PreparedStatement,
    insert_probabilities: PreparedStatement,
    select_latest_probabilities: PreparedStatement,
    insert_lease: PreparedStatement,
    renew_lease: PreparedStatement,
    delete_lease: PreparedStatement,
}

/// The sampling store on a Cassandra keyspace of Jaeger's v004 layout (or an older one
/// that `schema.create` completed with the sampling tables).
pub struct CassandraSamplingStore {
    session: Session,
    st: Statements,
    uuids: TimeUuids,
}

impl CassandraSamplingStore {
    /// Connects with `config` (its own session) to a keyspace that has the sampling
    /// tables; `schema.create` adds them when missing.
    pub async fn open(config: &CassandraConfig) -> Result<Self> {
        config.schema.validate()?;
        let session = connect(config).await?;
        let ks = &config.schema.keyspace;
        let layout: Layout = if config.create_schema {
            schema::create(&session, &config.schema).await?
        } else {
            let tables = schema::existing_tables(&session, ks).await?;
            schema::detect_layout(ks, tables.as_deref())?
        };
        if !layout.sampling {
            return Err(StorageError::Unavailable(format!(
                "cassandra keyspace {ks} has no sampling tables (operation_throughput, \
                 sampling_probabilities, leases): create them with schema.create: true or \
                 `jaeger cassandra-schema`"
            )));
        }
        let p = |cql: String| {
            let session = &session;
            async move {
                session
                    .prepare(cql.clone())
                    .await
                    .map_err(|e| unavailable(&format!("preparing {cql}"), e))
            }
        };
        let st = Statements {
            insert_throughput: p(format!(
                "INSERT INTO {ks}.operation_throughput (bucket, ts, throughput) VALUES (?, ?, ?)"
            ))
            .await?,
            select_throughput: p(format!(
                "SELECT ts, throughput FROM {ks}.operation_throughput \
                 WHERE bucket IN (0,1,2,3,4,5,6,7,8,9) AND ts >= ? AND ts < ?"
            ))
            .await?,
            insert_probabilities: p(format!(
                "INSERT INTO {ks}.sampling_probabilities (bucket, ts, hostname, probabilities) \
                 VALUES (?, ?, ?, ?)"
            ))
            .await?,
            select_latest_probabilities: p(format!(
                "SELECT probabilities FROM {ks}.sampling_probabilities WHERE bucket = ? LIMIT 1"
            ))
            .await?,
            insert_lease: p(format!(
                "INSERT INTO {ks}.leases (name, owner) VALUES (?, ?) IF NOT EXISTS USING TTL ?"
            ))
            .await?,
            renew_lease: p(format!(
                "UPDATE {ks}.leases USING TTL ? SET owner = ? WHERE name = ? IF owner = ?"
            ))
            .await?,
            delete_lease: p(format!(
                "DELETE FROM {ks}.leases WHERE name = ? IF owner = ?"
            ))
            .await?,
        };
        Ok(Self {
            session,
            st,
            uuids: TimeUuids::new(),
        })
    }

    async fn execute(
        &self,
        stmt: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<scylla::response::query_result::QueryResult> {
        self.session
            .execute_unpaged(stmt, values)
            .await
            .map_err(|e| unavailable("sampling store", e))
    }

    /// `[applied]` of a lightweight transaction, and the `owner` column it returned
    /// when not applied.
    async fn lwt(
        &self,
        stmt: &PreparedStatement,
        values: impl scylla::serialize::row::SerializeRow,
    ) -> Result<(bool, Option<String>)> {
        let rows = self
            .execute(stmt, values)
            .await?
            .into_rows_result()
            .map_err(|e| unavailable("lease result", e))?;
        let owner_col = rows.column_specs().iter().position(|c| c.name() == "owner");
        let row = rows
            .rows::<Row>()
            .map_err(|e| unavailable("lease result", e))?
            .next()
            .ok_or_else(|| StorageError::Corrupt("lease statement returned no row".into()))?
            .map_err(|e| StorageError::Corrupt(format!("lease row: {e}")))?;
        let applied = matches!(row.columns.first(), Some(Some(CqlValue::Boolean(true))));
        let owner = owner_col
            .and_then(|i| row.columns.get(i).cloned().flatten())
            .and_then(|v| match v {
                CqlValue::Text(s) => Some(s),
                _ => None,
            });
        Ok((applied, owner))
    }
}

fn ttl_seconds(ttl: Duration) -> i32 {
    // Jaeger's lock: 0 means its default of 60 s; Cassandra's TTL is whole seconds ≥ 1.
    if ttl.is_zero() {
        return 60;
    }
    i32::try_from(ttl.as_secs().max(1)).unwrap_or(i32::MAX)
}

#[async_trait]
impl SamplingStore for CassandraSamplingStore {
    async fn insert_throughput(&self, timestamp: u64, throughput: Vec<Throughput>) -> Result<()> {
        let bucket = (SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % THROUGHPUT_BUCKETS) as i32;
        self.execute(
            &self.st.insert_throughput,
            (
                bucket,
                self.uuids.at(timestamp),
                throughput_to_csv(&throughput),
            ),
        )
        .await
        .map(|_| ())
    }

    async fn get_throughput(&self, start: u64, end: u64) -> Result<Vec<ThroughputBucket>> {
        if tick_of(start) >= tick_of(end) {
            return Ok(Vec::new());
        }
        // (start, end] at tick precision: [first uuid after start's tick, first after end's).
        let rows = self
            .execute(
                &self.st.select_throughput,
                (min_uuid(tick_of(start) + 1), min_uuid(tick_of(end) + 1)),
            )
            .await?
            .into_rows_result()
            .map_err(|e| unavailable("throughput result", e))?;
        let mut stamped: Vec<((u64, u16), String)> = Vec::with_capacity(rows.rows_num());
        for r in rows
            .rows::<(CqlTimeuuid, Option<String>)>()
            .map_err(|e| unavailable("throughput result", e))?
        {
            let (ts, text) =
                r.map_err(|e| StorageError::Corrupt(format!("throughput row: {e}")))?;
            stamped.push((uuid_time(&ts), text.unwrap_or_default()));
        }
        stamped.sort_by_key(|(t, _)| *t);
        let mut out: Vec<ThroughputBucket> = Vec::new();
        for ((tick, _), text) in stamped {
            let throughput = throughput_from_csv(&text)?;
            let timestamp = unix_nanos_of_tick(tick);
            match out.last_mut() {
                Some(b) if b.timestamp == timestamp => b.throughput.extend(throughput),
                _ => out.push(ThroughputBucket {
                    timestamp,
                    throughput,
                }),
            }
        }
        Ok(out)
    }

    async fn insert_probabilities_and_qps(
        &self,
        hostname: &str,
        probabilities: ServiceOperationValues,
        qps: ServiceOperationValues,
    ) -> Result<()> {
        self.execute(
            &self.st.insert_probabilities,
            (
                PROBABILITIES_BUCKET,
                self.uuids.now(),
                hostname,
                probabilities_to_csv(&probabilities, &qps),
            ),
        )
        .await
        .map(|_| ())
    }

    async fn get_latest_probabilities(&self) -> Result<ServiceOperationValues> {
        let rows = self
            .execute(
                &self.st.select_latest_probabilities,
                (PROBABILITIES_BUCKET,),
            )
            .await?
            .into_rows_result()
            .map_err(|e| unavailable("probabilities result", e))?;
        let latest = rows
            .rows::<(Option<String>,)>()
            .map_err(|e| unavailable("probabilities result", e))?
            .next()
            .transpose()
            .map_err(|e| StorageError::Corrupt(format!("probabilities row: {e}")))?;
        match latest {
            Some((Some(text),)) => probabilities_from_csv(&text),
            _ => Ok(HashMap::new()),
        }
    }

    async fn acquire_lease(&self, name: &str, owner: &str, ttl: Duration) -> Result<bool> {
        let ttl = ttl_seconds(ttl);
        let (applied, holder) = self.lwt(&self.st.insert_lease, (name, owner, ttl)).await?;
        if applied {
            return Ok(true);
        }
        if holder.as_deref() != Some(owner) {
            return Ok(false);
        }
        // Ours already: extend it (fails only if it expired and was taken meanwhile).
        let (renewed, _) = self
            .lwt(&self.st.renew_lease, (ttl, owner, name, owner))
            .await?;
        Ok(renewed)
    }

    async fn forfeit_lease(&self, name: &str, owner: &str) -> Result<bool> {
        Ok(self.lwt(&self.st.delete_lease, (name, owner)).await?.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_csv_is_jaegers_and_round_trips() {
        let t = vec![
            Throughput {
                service: "svc".into(),
                operation: "GET /a".into(),
                count: 3,
                probabilities: ["0.001000".to_string(), "0.500000".to_string()].into(),
            },
            Throughput {
                service: "s,\"x\"".into(),
                operation: "op".into(),
                count: 0,
                probabilities: Default::default(),
            },
        ];
        let text = throughput_to_csv(&t);
        assert_eq!(
            text,
            "svc,GET /a,3,\"0.001000,0.500000\"\n\"s,\"\"x\"\"\",op,0,\n"
        );
        assert_eq!(throughput_from_csv(&text).expect("parse"), t);
        // Jaeger's writer puts a single probability unquoted.
        let one = throughput_from_csv("a,b,5,0.001000\n").expect("parse");
        assert_eq!(one[0].probabilities.len(), 1);
        assert!(throughput_from_csv("a,b,5\n").is_err());
        assert!(throughput_from_csv("a,b,x,\n").is_err());
        assert!(throughput_from_csv("a,\"b,5,1\n").is_err());
    }

    #[test]
    fn probabilities_csv_uses_plain_decimals() {
        let p: ServiceOperationValues =
            [("s".to_string(), [("op".to_string(), 1e-5)].into())].into();
        let q: ServiceOperationValues =
            [("s".to_string(), [("op".to_string(), 12.5)].into())].into();
        let text = probabilities_to_csv(&p, &q);
        assert_eq!(text, "s,op,0.00001,12.5\n");
        assert_eq!(probabilities_from_csv(&text).expect("parse"), p);
    }

    #[test]
    fn time_uuids_keep_100ns_ticks_and_order() {
        let u = TimeUuids::new();
        let ns = 1_795_651_200_123_456_700;
        let a = u.at(ns);
        assert_eq!(a.as_bytes()[6] >> 4, 1, "version 1");
        assert_eq!(a.as_bytes()[8] & 0xc0, 0x80, "RFC 4122 variant");
        let (tick, s1) = uuid_time(&a);
        assert_eq!(unix_nanos_of_tick(tick), ns);
        let (_, s2) = uuid_time(&u.at(ns));
        assert_eq!(s2, (s1 + 1) & 0x3fff);
        let (n1, _) = uuid_time(&u.now());
        let (n2, _) = uuid_time(&u.now());
        assert!(n2 > n1);
        assert_eq!(uuid_time(&min_uuid(tick)).0, tick);
    }
}
