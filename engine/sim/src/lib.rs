#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
pub mod error;
pub mod model;
pub mod report;
mod sim;

pub use config::{Shift, SimCampaign, SimConfig, SimTeam, WEEKDAYS};
pub use error::{Result, SimError};
pub use report::{CampaignTotals, SimCampaignState, SimEvent, SimSummary, TeamCapacity};
pub use sim::{RecordedCampaign, RecordedLead, RecordedWorld, Simulator};
