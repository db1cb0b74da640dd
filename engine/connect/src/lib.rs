#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod client;
pub mod http_poll;
pub mod hubspot;
pub mod poller;
pub mod registry;
pub mod salesforce;
mod secret;
pub mod source;

pub use poller::{poll_all_once, spawn, PollOutcome, Poller};
pub use registry::{build, build_one, Configured};
pub use source::{CapacitySource, Figures, Poll, SourceError, TeamTarget};
