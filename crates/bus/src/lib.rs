//! blazar-bus: bounded broadcast bus of live messages with lag and drop accounting
