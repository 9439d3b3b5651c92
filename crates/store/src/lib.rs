//! blazar-store: the store: WAL first, then memory, then the bus; replay and checkpoints
