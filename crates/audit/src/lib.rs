//! blazar-audit: the audit trail (seed 003, "auditability"). Every rule change, alert
//! transition, notification attempt, silence, acknowledgement and remediation is appended to one
//! hash-chained JSON-lines log; `GET /api/v1/telemetry/audit` reads it and `blazar audit verify`
//! checks a copy offline. This crate owns the file format, the log and the verifier; what gets
//! recorded is decided by its callers (alerting, config reload).
//!
//! # Format
//!
//! `<dir>/audit.jsonl`, one record per line, each line one `write` of the record and `\n`:
//!
//! ```text
//! {"seq":0,"time":"2025-01-01T00:00:00.000000001Z","kind":"alert","actor":"system","data":{..},"prev":"000…0","hash":"9f…"}
//! ```
//!
//! - `seq` starts at 0 and grows by exactly 1 per record, across rotations and restarts.
//! - `time` is RFC 3339 UTC with nanoseconds and strictly increases: a clock that steps back is
//!   clamped to the previous record's time + 1 ns. Records then stay in time order, and a reader
//!   can page exactly with `since = last time + 1 ns`.
//! - `kind` is an [`AuditKind`] (`rule_change`, `alert`, `notification`, `silence`, `ack`,
//!   `remediation`, `config_reload`, `lifecycle`, or another snake_case name: a reader never
//!   rejects a kind it does not know, so newer logs stay verifiable by older binaries).
//! - `actor` is who caused it: `system`, `api` or a user name (at most 256 bytes).
//! - `prev` is the previous record's `hash` (64 zeros for `seq` 0), `hash` is the lowercase hex
//!   SHA-256 of the record's *canonical bytes* without `hash`: exactly the line up to `prev`'s
//!   value, closed with `}` — `{"seq":..,"time":..,"kind":..,"actor":..,"data":..,"prev":..}`,
//!   compact, fields in that order, and every object inside `data` with its keys sorted by
//!   byte. The sort is done by our own writer ([`record`]), not left to `serde_json::Map`:
//!   whether `Map` sorts depends on the `preserve_order` feature, which any crate in the build
//!   may switch on. A line must *be* its canonical form: a verifier rejects a line whose hash
//!   matches but whose bytes differ (re-ordered keys, added whitespace, a duplicated key in
//!   `data` that the parser would collapse), so what a person reads is what was hashed.
//!
//! # Why a hash chain
//!
//! Each line commits to everything before it, so changing a field, deleting a line or
//! re-ordering lines breaks the chain at that line, and `verify` names it. The chain is not
//! keyed: someone who can rewrite the file can recompute every later hash. What defends
//! against that is to keep the last hash elsewhere (`blazar audit verify` prints it), or to
//! export regularly; an export that starts mid-chain verifies from its first line on.
//!
//! # Durability and bounds
//!
//! - Each append is one `write` of the whole line to the OS (survives a crash of blazar, not of
//!   the machine); [`AuditLog::sync`] adds an `fdatasync` for callers that want to bound loss on
//!   power failure (the server may call it periodically).
//! - A crash can leave a torn last line (a prefix without `\n`, or zeros). Like the WAL's replay,
//!   [`AuditLog::open`] cuts everything after the last `\n`: that record's append never returned,
//!   so nobody was told it exists. A complete last line that does not verify is *not* cut: that
//!   is corruption or tampering, and open fails with [`AuditError::Corrupt`] rather than destroy
//!   evidence or continue a chain from a hash it cannot trust.
//! - A failed write is undone (the file is cut back to its last complete line) so the chain never
//!   has garbage in the middle.
//! - Size: when an append would take `audit.jsonl` past `max_bytes` (default 256 MiB) the file
//!   is renamed to `audit.jsonl.1` (replacing the older one) and a new file starts; the chain
//!   continues (the new first line's `prev` is the old last hash). At most about twice
//!   `max_bytes` is kept; the oldest records go first.
//! - `data` larger than 64 KiB serialized is not rejected but replaced by
//!   `{"truncated":true,"original_bytes":N,"preview":"<first 1 KiB of its JSON>"}`. An audit
//!   record is evidence that something happened, and dropping it because of its size would lose
//!   that; the marker says plainly what was cut.

// Every byte read back may be damaged or hostile: no panicking index on it.
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]

mod error;
mod log;
pub mod record;
mod verify;

pub use error::AuditError;
pub use log::{AuditLog, AuditOptions, DEFAULT_MAX_BYTES, FILE_NAME, OLD_FILE_NAME};
pub use record::{format_time, AuditKind, AuditRecord, MAX_ACTOR_BYTES, MAX_DATA_BYTES, ZERO_HASH};
pub use verify::{verify_file, verify_reader, BadLine, BadReason, VerifyReport};
