//! Tools around the engine, kept out of the production engine's link: the embedded demo, the
//! benchmark, synthetic B2B data, the planted-uplift scenario, the HTML report and the
//! recommender's training.

// Tools for a person at a terminal: what they print is their interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod bench;
pub mod demo;
pub mod recommend;
pub mod report;
pub mod synthetic;
pub mod uplift;
pub mod workload;
