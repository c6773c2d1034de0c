"""Sends one two-span trace with the OpenTelemetry Python SDK through one exporter.

usage: otel_sdk.py {otlp-grpc|otlp-http|zipkin-json} ENDPOINT SERVICE [TRACE_ID_HEX PARENT_SPAN_HEX]
Prints the trace id (32 hex digits). Exits non-zero if the exporter reported a failure.
With TRACE_ID_HEX/PARENT_SPAN_HEX the spans join that trace, as a child of that span.
"""
import sys

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult

kind, endpoint, service = sys.argv[1:4]
if kind == "otlp-grpc":
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint, insecure=True)
elif kind == "otlp-http":
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=endpoint)
elif kind == "zipkin-json":
    from opentelemetry.exporter.zipkin.json import ZipkinExporter

    exporter = ZipkinExporter(endpoint=endpoint)
else:
    sys.exit(f"unknown exporter {kind}")

results = []


class Checked:
    """Records what the real exporter answered, so a refused export fails the run."""

    def export(self, spans):
        r = exporter.export(spans)
        results.append(r)
        return r

    def shutdown(self):
        exporter.shutdown()

    def force_flush(self, timeout_millis=30000):
        return True


provider = TracerProvider(resource=Resource.create({"service.name": service}))
provider.add_span_processor(SimpleSpanProcessor(Checked()))
tracer = provider.get_tracer("clients-e2e")

ctx = None
if len(sys.argv) > 5:
    parent = trace.SpanContext(
        trace_id=int(sys.argv[4], 16),
        span_id=int(sys.argv[5], 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    ctx = trace.set_span_in_context(trace.NonRecordingSpan(parent))

with tracer.start_as_current_span(
    f"{kind}-parent", context=ctx, attributes={"client": kind}
) as root:
    with tracer.start_as_current_span(f"{kind}-child"):
        pass
ids = root.get_span_context()
provider.shutdown()
if not results or any(r != SpanExportResult.SUCCESS for r in results):
    sys.exit(f"export failed: {results}")
print(format(ids.trace_id, "032x"), format(ids.span_id, "016x"))
