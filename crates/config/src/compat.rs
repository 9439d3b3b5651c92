//! Seed-style flat keys (seed 001 `TelemetryConfig`/`TracingConfig`, seed 002's collector) mapped
//! onto sections. Setting the same thing both ways is an error rather than a silent precedence.

use crate::raw::RawConfig;
use crate::{ConfigError, HumanDuration};

/// Returns the section value, else the flat one.
pub(crate) fn pick<T>(section: Option<T>, flat: Option<T>) -> Option<T> {
    section.or(flat)
}

fn one<T: Clone>(
    section_key: &'static str,
    section: &Option<T>,
    flat_key: &'static str,
    flat: &Option<T>,
) -> Result<(Option<T>, &'static str), ConfigError> {
    match (section, flat) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            flat_key,
            format!("set both as {flat_key} and as {section_key}; keep one"),
        )),
        (Some(v), None) => Ok((Some(v.clone()), section_key)),
        (None, Some(v)) => Ok((Some(v.clone()), flat_key)),
        (None, None) => Ok((None, section_key)),
    }
}

/// Settings that may come from a section or a flat seed key, with the key they came from.
pub(crate) struct Merged {
    pub events_enabled: Option<bool>,
    pub buffer_size: Option<usize>,
    pub buffer_size_key: &'static str,
    pub batch_size: Option<usize>,
    pub batch_size_key: &'static str,
    pub source_id: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub sampling_rate: Option<f64>,
    pub sampling_rate_key: &'static str,
    pub stream_enabled: Option<bool>,
    pub stream_buffer_size: Option<usize>,
    pub stream_buffer_key: &'static str,
    pub sample_rate: Option<f64>,
    pub sample_rate_key: &'static str,
    pub max_trace_length: Option<usize>,
    pub max_trace_length_key: &'static str,
    pub enable_p2p_tracing: Option<bool>,
    pub trace_retention: Option<HumanDuration>,
}

impl Merged {
    pub(crate) fn new(raw: &RawConfig) -> Result<Self, ConfigError> {
        let e = &raw.events;
        let (events_enabled, _) = one("events.enabled", &e.enabled, "enabled", &raw.enabled)?;
        let (buffer_size, buffer_size_key) = one(
            "events.buffer_size",
            &e.buffer_size,
            "buffer_size",
            &raw.buffer_size,
        )?;
        let (batch_size, batch_size_key) = one(
            "events.batch_size",
            &e.batch_size,
            "batch_size",
            &raw.batch_size,
        )?;
        let (source_id, _) = one(
            "events.source_id",
            &e.source_id,
            "source_id",
            &raw.source_id,
        )?;
        let (event_types, _) = one(
            "events.event_types",
            &e.event_types,
            "event_types",
            &raw.event_types,
        )?;
        let (sampling_rate, sampling_rate_key) = one(
            "events.sampling_rate",
            &e.sampling_rate,
            "sampling_rate",
            &raw.sampling_rate,
        )?;
        let s = &raw.stream;
        let (stream_enabled, _) = one(
            "stream.enabled",
            &s.enabled,
            "enable_realtime_stream",
            &raw.enable_realtime_stream,
        )?;
        let (stream_buffer_size, stream_buffer_key) = one(
            "stream.buffer_size",
            &s.buffer_size,
            "stream_buffer_size",
            &raw.stream_buffer_size,
        )?;
        let t = &raw.tracing;
        // Seed 001 has two names for the trace sample rate; both are flat.
        let (flat_rate, flat_rate_key) = one(
            "trace_sample_rate",
            &raw.trace_sample_rate,
            "sample_rate",
            &raw.sample_rate,
        )?;
        let (sample_rate, sample_rate_key) = match (t.sample_rate, flat_rate) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    flat_rate_key,
                    "set both flat and as tracing.sample_rate; keep one",
                ))
            }
            (Some(v), None) => (Some(v), "tracing.sample_rate"),
            (None, v) => (v, flat_rate_key),
        };
        let (max_trace_length, max_trace_length_key) = one(
            "tracing.max_trace_length",
            &t.max_trace_length,
            "max_trace_length",
            &raw.max_trace_length,
        )?;
        let (enable_p2p_tracing, _) = one(
            "tracing.enable_p2p_tracing",
            &t.enable_p2p_tracing,
            "enable_p2p_tracing",
            &raw.enable_p2p_tracing,
        )?;
        if raw.trace_retention.is_some() && raw.storage.traces.retention.is_some() {
            return Err(ConfigError::invalid(
                "trace_retention",
                "set both as trace_retention and as storage.traces.retention; keep one",
            ));
        }
        Ok(Self {
            events_enabled,
            buffer_size,
            buffer_size_key,
            batch_size,
            batch_size_key,
            source_id,
            event_types,
            sampling_rate,
            sampling_rate_key,
            stream_enabled,
            stream_buffer_size,
            stream_buffer_key,
            sample_rate,
            sample_rate_key,
            max_trace_length,
            max_trace_length_key,
            enable_p2p_tracing,
            trace_retention: raw.trace_retention,
        })
    }
}
