//! A couple's plans: dates they put in their shared calendar, each reminded to both partners
//! [`Plan::REMIND_BEFORE`] ahead, exactly once per start time.

mod aggregate;
mod commands;
mod events;

pub use aggregate::{Plan, PlanError};
pub use commands::{PlanChange, PlanCommand};
pub use events::{PlanDeleted, PlanEvent, PlanReminded, PlanWritten};
