//! blazar-config: config: YAML to validated Config, units, seed-key compatibility, env overrides
