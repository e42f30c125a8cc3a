//! Reading use-case directories from disk: the files a use-case set is compiled from, for
//! `validate`, `replay`, the engine's start and its hot reload.

pub mod load;

pub use load::{load_dir, read_dir_all, read_dir_files, read_dir_models, LoadError};
