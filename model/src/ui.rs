//! The Jaeger UI JSON model (query spec §1.8) and the OTLP → UI conversion.
