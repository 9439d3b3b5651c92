//! OTLP (traces, metrics, logs) decoding and mapping onto blazar's model.
