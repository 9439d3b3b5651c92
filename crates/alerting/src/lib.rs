//! Alerting: rules over metrics evaluated as samples arrive and on a timer, alert instances
//! (pending → firing → resolved), grouping and de-duplication into notifications, channels.

pub mod alert;
pub mod channel;
pub mod engine;
mod manager;
pub mod notify;
pub mod outbox;
pub mod rule;
pub mod silence;

pub use alert::{Alert, AlertState, Notification};
pub use manager::{AlertManager, RuleView};
