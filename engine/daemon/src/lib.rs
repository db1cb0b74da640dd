//! Daemon (being built).
