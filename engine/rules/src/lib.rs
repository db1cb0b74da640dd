//! Rhai rules host (being built).
