//! blazar-signals: traces, logs and events stores: time-ordered, indexed, retention by age and bytes
