//! blazar-ingest: receivers: native JSON API translation, Prometheus remote_write decoding
