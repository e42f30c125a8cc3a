//! Reading use-case directories from disk, and `replay`: the core's evaluation run over a
//! recorded event file, the way an analyst back-tests a use case before approving it.

pub mod load;
pub mod recommend;
pub mod replay;
pub mod report;
pub mod synthetic;
pub mod uplift;
pub mod workload;

pub use load::{load_dir, read_dir_all, read_dir_files, read_dir_models, LoadError};
pub use replay::{replay, ReplayOptions, ReplaySummary};
