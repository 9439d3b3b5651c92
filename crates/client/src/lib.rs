//! blazar-client: HTTP client used by the CLI; depends on the wire shapes only
