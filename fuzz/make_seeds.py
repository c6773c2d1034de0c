"""Writes the small seed corpus in corpus/ (run with the tests venv: target/pyvenv/bin/python fuzz/make_seeds.py from fuzz/)."""
import os, json
from thrift.protocol import TBinaryProtocol, TCompactProtocol
from thrift.transport import TTransport
from jaeger_client.thrift_gen.jaeger import ttypes as j
from jaeger_client.thrift_gen.agent import Agent
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.common.v1 import common_pb2

root = "corpus"
def put(target, name, data):
    d = os.path.join(root, target); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, name), "wb").write(data if isinstance(data, bytes) else data.encode())

span = j.Span(traceIdLow=1, traceIdHigh=2, spanId=3, parentSpanId=0, operationName="op", flags=1,
              startTime=1700000000000000, duration=1000,
              tags=[j.Tag(key="k", vType=j.TagType.STRING, vStr="v"), j.Tag(key="n", vType=j.TagType.LONG, vLong=7)],
              logs=[j.Log(timestamp=1700000000000001, fields=[j.Tag(key="event", vType=j.TagType.STRING, vStr="e")])],
              references=[j.SpanRef(refType=j.SpanRefType.CHILD_OF, traceIdLow=1, traceIdHigh=2, spanId=9)])
batch = j.Batch(process=j.Process(serviceName="svc", tags=[j.Tag(key="h", vType=j.TagType.BOOL, vBool=True)]), spans=[span])
for name, proto in [("jaeger_thrift_compact", TCompactProtocol.TCompactProtocol), ("jaeger_thrift_binary", TBinaryProtocol.TBinaryProtocol)]:
    buf = TTransport.TMemoryBuffer(); batch.write(proto(buf)); put(name, "batch", buf.getvalue())
    from thrift.Thrift import TMessageType, TType as TT
    buf = TTransport.TMemoryBuffer(); pr = proto(buf)
    pr.writeMessageBegin("emitBatch", TMessageType.ONEWAY, 1); pr.writeStructBegin("emitBatch_args")
    pr.writeFieldBegin("batch", TT.STRUCT, 1); batch.write(pr); pr.writeFieldEnd(); pr.writeFieldStop(); pr.writeStructEnd(); pr.writeMessageEnd()
    put(name, "emit_batch", buf.getvalue())

put("zipkin_v2_json", "spans.json", json.dumps([{"traceId": "0000000000000001000000000000000a", "id": "000000000000000b", "parentId": "000000000000000c", "name": "get", "kind": "SERVER", "timestamp": 1700000000000000, "duration": 10, "localEndpoint": {"serviceName": "svc", "ipv4": "10.0.0.1", "port": 80}, "remoteEndpoint": {"serviceName": "db", "ipv6": "::1"}, "tags": {"http.path": "/"}, "annotations": [{"timestamp": 1700000000000001, "value": "ws"}], "shared": True, "debug": False}]))
put("zipkin_v1_json", "spans.json", json.dumps([{"traceId": "000000000000000a", "id": "000000000000000b", "name": "get", "timestamp": 1700000000000000, "duration": 10, "annotations": [{"timestamp": 1700000000000000, "value": "sr", "endpoint": {"serviceName": "svc", "ipv4": "10.0.0.1", "port": 80}}, {"timestamp": 1700000000000010, "value": "ss", "endpoint": {"serviceName": "svc"}}], "binaryAnnotations": [{"key": "http.path", "value": "/", "endpoint": {"serviceName": "svc"}}, {"key": "sa", "value": True, "endpoint": {"serviceName": "db"}}]}]))
put("otlp_json", "req.json", json.dumps({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}, "scopeSpans": [{"scope": {"name": "s"}, "spans": [{"traceId": "0000000000000001000000000000000a", "spanId": "000000000000000b", "parentSpanId": "000000000000000c", "name": "op", "kind": 2, "startTimeUnixNano": "1700000000000000000", "endTimeUnixNano": "1700000000000001000", "attributes": [{"key": "k", "value": {"intValue": "3"}}], "events": [{"timeUnixNano": "1700000000000000500", "name": "e"}], "links": [{"traceId": "0000000000000001000000000000000b", "spanId": "000000000000000d"}], "status": {"code": 2, "message": "m"}}]}]}]}))
req = ExportTraceServiceRequest(resource_spans=[trace_pb2.ResourceSpans(
    resource=resource_pb2.Resource(attributes=[common_pb2.KeyValue(key="service.name", value=common_pb2.AnyValue(string_value="svc"))]),
    scope_spans=[trace_pb2.ScopeSpans(spans=[trace_pb2.Span(trace_id=bytes(range(1, 17)), span_id=bytes(range(1, 9)), parent_span_id=bytes(range(2, 10)), name="op", kind=2, start_time_unix_nano=1700000000000000000, end_time_unix_nano=1700000000000001000, attributes=[common_pb2.KeyValue(key="k", value=common_pb2.AnyValue(int_value=3))], events=[trace_pb2.Span.Event(time_unix_nano=1700000000000000500, name="e")])])])])
put("otlp_proto", "req.bin", req.SerializeToString())

# Jaeger model.proto PostSpansRequest and zipkin.proto3 ListOfSpans, written field by field.
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F; n >>= 7
        if n: out.append(b | 0x80)
        else: out.append(b); return bytes(out)
def ld(field, payload): return varint(field << 3 | 2) + varint(len(payload)) + payload
def vi(field, n): return varint(field << 3) + varint(n)
jspan = ld(1, bytes(range(1, 17))) + ld(2, bytes(range(1, 9))) + ld(3, b"op") + ld(8, ld(1, b"k") + vi(2, 0) + ld(3, b"v"))
put("jaeger_proto", "req.bin", ld(1, ld(1, jspan) + ld(2, ld(1, b"svc"))))
zspan = ld(1, bytes(range(1, 17))) + ld(3, bytes(range(1, 9))) + vi(4, 2) + ld(5, b"get") + varint(6 << 3 | 1) + (1700000000000000).to_bytes(8, "little") + vi(7, 10) + ld(8, ld(1, b"svc"))
put("zipkin_v2_proto", "spans.bin", ld(1, zspan))
# zipkin v1 Thrift: a TBinaryProtocol list of zipkincore Spans (struct fields by id).
buf = TTransport.TMemoryBuffer(); p = TBinaryProtocol.TBinaryProtocol(buf)
from thrift.Thrift import TType
p.writeListBegin(TType.STRUCT, 1); p.writeStructBegin("Span")
p.writeFieldBegin("trace_id", TType.I64, 1); p.writeI64(10); p.writeFieldEnd()
p.writeFieldBegin("name", TType.STRING, 3); p.writeString("get"); p.writeFieldEnd()
p.writeFieldBegin("id", TType.I64, 4); p.writeI64(11); p.writeFieldEnd()
p.writeFieldBegin("timestamp", TType.I64, 10); p.writeI64(1700000000000000); p.writeFieldEnd()
p.writeFieldBegin("duration", TType.I64, 11); p.writeI64(10); p.writeFieldEnd()
p.writeFieldStop(); p.writeStructEnd(); p.writeListEnd()
put("zipkin_v1_thrift", "spans.bin", buf.getvalue())

# kafka_codec: a selector byte (the encoding, in the target's ENCODINGS order) + a payload,
# made from the seeds above. jaeger_proto is one Span with its process: the first span of
# the Jaeger PostSpansRequest seed (field 1 batch → field 1 spans) + process (field 10).
def first_ld(data, field):
    i = 0
    while i < len(data):
        key, i = read_varint(data, i)
        if key & 7 == 2:
            n, i = read_varint(data, i)
            if key >> 3 == field:
                return data[i:i + n]
            i += n
        elif key & 7 == 0:
            _, i = read_varint(data, i)
        else:
            raise ValueError("unexpected wire type")
    raise ValueError("field not found")
def read_varint(data, i):
    n = shift = 0
    while True:
        b = data[i]; i += 1; n |= (b & 0x7f) << shift; shift += 7
        if b < 0x80:
            return n, i
def seed(target, name):
    return open(os.path.join(root, target, name), "rb").read()
jaeger_span = first_ld(first_ld(seed("jaeger_proto", "req.bin"), 1), 1) + ld(10, ld(1, b"svc"))
jaeger_json_span = json.dumps({"traceId": "AAAAAAAAAAIAAAAAAAAAAQ==", "spanId": "AAAAAAAAAAM=", "operationName": "op",
    "references": [{"traceId": "AAAAAAAAAAIAAAAAAAAAAQ==", "spanId": "AAAAAAAAAAk=", "refType": "CHILD_OF"}],
    "flags": 1, "startTime": "2023-11-14T22:13:20Z", "duration": "0.001s",
    "tags": [{"key": "k", "vStr": "v"}, {"key": "n", "vType": "INT64", "vInt64": "7"}],
    "logs": [{"timestamp": "2023-11-14T22:13:20.000001Z", "fields": [{"key": "event", "vStr": "e"}]}],
    "process": {"serviceName": "svc", "tags": [{"key": "h", "vType": "BOOL", "vBool": True}]}}).encode()
for selector, name, payload in [
    (0, "otlp_proto", seed("otlp_proto", "req.bin")),
    (1, "otlp_json", seed("otlp_json", "req.json")),
    (2, "jaeger_proto", jaeger_span),
    (3, "jaeger_json", jaeger_json_span),
    (4, "zipkin_proto", seed("zipkin_v2_proto", "spans.bin")),
    (5, "zipkin_json", seed("zipkin_v2_json", "spans.json")),
    (6, "zipkin_thrift", seed("zipkin_v1_thrift", "spans.bin")),
]:
    put("kafka_codec", name, bytes([selector]) + payload)
