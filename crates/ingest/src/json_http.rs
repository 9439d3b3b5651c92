//! The native JSON API's payloads (seeds 002 and 004): parse with field-naming errors, validate,
//! translate into the model. Handlers hand in parsed JSON; nothing here touches a socket.

mod events;
mod fields;
mod logs;
mod metrics;
mod spans;

pub use events::{parse_events, EventDefaults};
pub use fields::{items, Item};
pub use logs::parse_logs;
pub use metrics::parse_metrics;
pub use spans::{
    parse_finish, parse_span_log, parse_span_start, parse_span_tags, SpanFinish, SpanLog, SpanStart,
};
