//! blazar-server: wiring: build from Config, run, reload, shut down
