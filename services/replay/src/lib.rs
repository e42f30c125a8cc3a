//! `replay`: the core's evaluation run over a recorded event file, the way an analyst
//! back-tests a use case before approving it. The live engine calls the same
//! `Processor::process`, so both give identical actions.

mod customers;
mod replay;

pub use customers::Customers;
pub use replay::*;
