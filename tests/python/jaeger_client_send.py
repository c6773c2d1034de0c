"""Sends one two-span trace with the Python jaeger-client.

usage: jaeger_client_send.py udp HOST PORT SERVICE    (the client's own UDP agent reporter,
                                                       compact Thrift emitBatch)
       jaeger_client_send.py http URL SERVICE         (the client's spans and Thrift batch,
                                                       POSTed as binary Thrift)
Prints the trace id in hex.

jaeger-client has no HTTP sender of its own (only the UDP agent reporter), so the http
mode takes the Batch the client builds (jaeger_client.thrift.make_jaeger_batch, the
client's generated Thrift types) and serializes it with the thrift library's
TBinaryProtocol, as Jaeger's Java/Go/Node HTTP senders do.
"""
import sys
import time
import urllib.request

from jaeger_client import Config
from jaeger_client import thrift as jthrift
from jaeger_client.reporter import InMemoryReporter

mode = sys.argv[1]


def make_spans(tracer):
    with tracer.start_active_span(f"jaeger-{mode}-parent") as scope:
        scope.span.set_tag("client", f"jaeger-client-{mode}")
        with tracer.start_active_span(f"jaeger-{mode}-child"):
            pass
        return scope.span.trace_id


if mode == "udp":
    host, port, service = sys.argv[2], int(sys.argv[3]), sys.argv[4]
    config = Config(
        config={
            "sampler": {"type": "const", "param": 1},
            "local_agent": {"reporting_host": host, "reporting_port": port},
            "reporter_flush_interval": 0.1,
            "logging": True,
        },
        service_name=service,
        validate=True,
    )
    tracer = config.initialize_tracer()
    if tracer is None:
        sys.exit("jaeger-client did not create a tracer")
    trace_id = make_spans(tracer)
    time.sleep(0.5)  # the reporter flushes every 0.1 s on its own loop
    # With tornado 6 on Python 3.11 the Future tracer.close() returns is never marked
    # done although the queue is flushed, so wait for it only briefly; the test checks
    # that the spans arrived through the query API.
    done = tracer.close()
    deadline = time.time() + 1
    while not done.done() and time.time() < deadline:
        time.sleep(0.05)
elif mode == "http":
    url, service = sys.argv[2], sys.argv[3]
    from jaeger_client import Tracer
    from jaeger_client.sampler import ConstSampler
    from thrift.protocol import TBinaryProtocol
    from thrift.transport import TTransport

    reporter = InMemoryReporter()
    tracer = Tracer(service_name=service, reporter=reporter, sampler=ConstSampler(True))
    trace_id = make_spans(tracer)
    process = jthrift.make_process(service_name=service, tags=tracer.tags, max_length=1024)
    batch = jthrift.make_jaeger_batch(spans=reporter.get_spans(), process=process)
    buf = TTransport.TMemoryBuffer()
    batch.write(TBinaryProtocol.TBinaryProtocol(buf))
    req = urllib.request.Request(
        url,
        data=buf.getvalue(),
        method="POST",
        headers={"Content-Type": "application/x-thrift"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        if r.status != 202:
            sys.exit(f"collector answered {r.status}")
    tracer.close()
else:
    sys.exit(f"unknown mode {mode}")
print(format(trace_id, "x"))
