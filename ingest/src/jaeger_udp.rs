//! Jaeger agent protocol over UDP: port 6831 (compact Thrift) and 6832 (binary
//! Thrift), each datagram one `Agent.emitBatch` oneway message (ingest spec §1.6).
//!
//! The socket loop only receives: datagrams go on a bounded channel to worker tasks
//! that decode and submit to the [`SpanQueue`]. When the channel is full the datagram
//! is dropped and counted (`jaeger_udp_dropped_packets_total`), as Jaeger's agent does;
//! UDP has no back-pressure and no reply. `emitZipkinBatch` datagrams and undecodable
//! ones are counted and logged, never fatal.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::UdpSocket;
use tokio::sync::{Mutex, mpsc};

use crate::error::IngestError;
use crate::jaeger_http::RECEIVER;
use crate::jaeger_thrift::{self, AgentMessage, ThriftProtocol};
use crate::metrics;
use crate::queue::SpanQueue;

/// Largest datagram read; Jaeger clients never send more.
pub const MAX_PACKET_SIZE: usize = 65_000;

/// Tuning of the UDP server; the defaults are Jaeger's.
#[derive(Clone, Debug)]
pub struct UdpOptions {
    /// Datagrams waiting for a worker before new ones are dropped.
    pub queue_packets: usize,
    /// Worker tasks decoding and submitting in parallel.
    pub workers: usize,
}

impl Default for UdpOptions {
    fn default() -> Self {
        Self {
            queue_packets: 1000,
            workers: 10,
        }
    }
}

/// What a server did, returned when it stops.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct UdpStats {
    pub packets_received: u64,
    pub packets_dropped: u64,
    pub packets_invalid: u64,
    pub spans_accepted: u64,
    pub spans_dropped: u64,
}

#[derive(Default)]
struct Counters {
    dropped: AtomicU64,
    invalid: AtomicU64,
    accepted: AtomicU64,
    spans_dropped: AtomicU64,
}

fn transport(protocol: ThriftProtocol) -> &'static str {
    match protocol {
        ThriftProtocol::Compact => "udp_thrift_compact",
        ThriftProtocol::Binary => "udp_thrift_binary",
    }
}

/// Logs the 1st, 2nd, 4th, 8th... occurrence, so a flood of bad packets cannot flood
/// the log.
fn should_log(count: u64) -> bool {
    count.is_power_of_two()
}

/// Serves the agent protocol on `socket` (default `:6831` compact, `:6832` binary)
/// with [`UdpOptions::default`], until `shutdown` resolves; then drains the datagrams
/// already received.
pub async fn serve_jaeger_udp(
    socket: UdpSocket,
    protocol: ThriftProtocol,
    queue: SpanQueue,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<UdpStats, IngestError> {
    serve_jaeger_udp_with(socket, protocol, queue, UdpOptions::default(), shutdown).await
}

/// [`serve_jaeger_udp`] with explicit options.
pub async fn serve_jaeger_udp_with(
    socket: UdpSocket,
    protocol: ThriftProtocol,
    queue: SpanQueue,
    options: UdpOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<UdpStats, IngestError> {
    let transport = transport(protocol);
    let (tx, rx) = mpsc::channel::<Vec<u8>>(options.queue_packets.max(1));
    let rx = Arc::new(Mutex::new(rx));
    let counters = Arc::new(Counters::default());
    let workers: Vec<_> = (0..options.workers.max(1))
        .map(|_| {
            tokio::spawn(run_worker(
                rx.clone(),
                protocol,
                queue.clone(),
                counters.clone(),
            ))
        })
        .collect();

    let mut received = 0u64;
    let mut buf = vec![0u8; MAX_PACKET_SIZE];
    tokio::pin!(shutdown);
    let result = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, _peer)) => {
                    received += 1;
                    if tx.try_send(buf[..n].to_vec()).is_err() {
                        let dropped = counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        metrics::udp_dropped_packets(transport);
                        if should_log(dropped) {
                            tracing::warn!(transport, dropped, "agent UDP queue full, dropping packets");
                        }
                    }
                }
                // ICMP errors (e.g. connection refused on Windows) and the like are
                // per-datagram; keep serving.
                Err(e) if is_transient(&e) => {
                    tracing::debug!(transport, error = %e, "agent UDP receive error");
                }
                Err(e) => break Err(IngestError::Server {
                    transport,
                    source: Box::new(e),
                }),
            }
        }
    };
    drop(tx);
    for w in workers {
        if let Err(e) = w.await {
            tracing::error!(transport, error = %e, "agent UDP worker failed");
        }
    }
    result.map(|()| UdpStats {
        packets_received: received,
        packets_dropped: counters.dropped.load(Ordering::Relaxed),
        packets_invalid: counters.invalid.load(Ordering::Relaxed),
        spans_accepted: counters.accepted.load(Ordering::Relaxed),
        spans_dropped: counters.spans_dropped.load(Ordering::Relaxed),
    })
}

fn is_transient(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionReset | Interrupted | WouldBlock | TimedOut
    )
}

async fn run_worker(
    rx: Arc<Mutex<mpsc::Receiver<Vec<u8>>>>,
    protocol: ThriftProtocol,
    queue: SpanQueue,
    counters: Arc<Counters>,
) {
    let transport = transport(protocol);
    loop {
        // The lock is held only while waiting for the next datagram.
        let Some(packet) = rx.lock().await.recv().await else {
            return;
        };
        let batch = match jaeger_thrift::decode_agent_message(&packet, protocol) {
            Ok(AgentMessage::EmitBatch(batch)) => batch,
            Ok(AgentMessage::EmitZipkinBatch) => {
                let n = counters.invalid.fetch_add(1, Ordering::Relaxed) + 1;
                metrics::udp_invalid_packet(transport, "emit_zipkin_batch");
                if should_log(n) {
                    tracing::warn!(
                        transport,
                        "agent UDP: emitZipkinBatch is not supported, packet dropped; send Zipkin to :9411"
                    );
                }
                continue;
            }
            Err(e) => {
                let n = counters.invalid.fetch_add(1, Ordering::Relaxed) + 1;
                metrics::udp_invalid_packet(transport, "decode_error");
                if should_log(n) {
                    tracing::warn!(transport, error = %e, invalid = n, "agent UDP: undecodable packet dropped");
                }
                continue;
            }
        };
        let batch = vec![jaeger_thrift::batch_to_otlp(batch)];
        let spans = jaeger_model::trace::span_count(&batch);
        match queue.submit(batch, packet.len(), RECEIVER, transport).await {
            Ok(()) => {
                counters.accepted.fetch_add(spans as u64, Ordering::Relaxed);
            }
            Err(e) => {
                let n = counters
                    .spans_dropped
                    .fetch_add(spans as u64, Ordering::Relaxed)
                    + spans as u64;
                metrics::udp_dropped_spans(transport, spans);
                if should_log(n) {
                    tracing::warn!(transport, error = %e, dropped_spans = n, "agent UDP: spans dropped");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jaeger_thrift::tests::{encode_agent, sample_batch};
    use crate::test_support::RecordingWriter;
    use jaeger_config::QueueConfig;
    use std::time::Duration;
    use tokio::sync::oneshot;

    fn queue(writer: Arc<RecordingWriter>) -> SpanQueue {
        SpanQueue::new(
            &QueueConfig {
                max_bytes: 1 << 20,
                max_batch_spans: 1000,
                writers: 1,
            },
            writer,
        )
    }

    async fn wait_for_spans(writer: &RecordingWriter, n: usize) {
        for _ in 0..500 {
            if writer.span_count() >= n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("expected {n} spans, have {}", writer.span_count());
    }

    #[tokio::test]
    async fn both_protocols_deliver_batches_and_survive_bad_packets() {
        for protocol in [ThriftProtocol::Compact, ThriftProtocol::Binary] {
            let writer = RecordingWriter::new();
            let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            let addr = socket.local_addr().expect("addr");
            let (stop, stopped) = oneshot::channel::<()>();
            let server = tokio::spawn(serve_jaeger_udp(
                socket,
                protocol,
                queue(writer.clone()),
                async {
                    let _ = stopped.await;
                },
            ));
            let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
            let good = encode_agent("emitBatch", &sample_batch(), protocol);
            let zipkin = encode_agent("emitZipkinBatch", &sample_batch(), protocol);
            client.send_to(&zipkin, addr).await.expect("send");
            client
                .send_to(&good[..good.len() - 3], addr)
                .await
                .expect("send");
            client.send_to(&[0xff; 100], addr).await.expect("send");
            client.send_to(&good, addr).await.expect("send");
            wait_for_spans(&writer, 2).await;
            let written = &writer.batches()[0][0];
            assert_eq!(written.scope_spans[0].spans[1].name, "db");
            stop.send(()).expect("server alive");
            let stats = server.await.expect("join").expect("serve");
            assert_eq!(stats.packets_received, 4);
            assert_eq!(stats.packets_invalid, 3);
            assert_eq!(stats.spans_accepted, 2);
            assert_eq!(stats.packets_dropped, 0);
        }
    }

    #[tokio::test]
    async fn full_channel_drops_packets_without_blocking_the_socket() {
        let writer = RecordingWriter::new();
        writer.block();
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let addr = socket.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_jaeger_udp_with(
            socket,
            ThriftProtocol::Compact,
            queue(writer.clone()),
            UdpOptions {
                queue_packets: 1,
                workers: 1,
            },
            async {
                let _ = stopped.await;
            },
        ));
        let client = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
        let good = encode_agent("emitBatch", &sample_batch(), ThriftProtocol::Compact);
        for _ in 0..10 {
            client.send_to(&good, addr).await.expect("send");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        writer.unblock();
        stop.send(()).expect("server alive");
        let stats = server.await.expect("join").expect("serve");
        assert_eq!(stats.packets_received, 10);
        assert!(stats.packets_dropped >= 7, "{stats:?}");
        let delivered = (10 - stats.packets_dropped) as usize;
        assert_eq!(writer.span_count(), delivered * 2);
        assert_eq!(stats.spans_accepted as usize, delivered * 2);
    }
}
