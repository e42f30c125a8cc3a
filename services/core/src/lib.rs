//! Revenue Engine's pure core: events, the feature catalog, per-customer feature state, use
//! cases and their evaluation. No I/O: the streaming engine and offline replay build on it.

pub mod algo;
pub mod catalog;
pub mod codec;
pub mod diagnostic;
pub mod duration;
pub mod event;
// The CEL compiler lives in its own crate; the old path keeps `revenue_expr::...` working.
pub use revenue_expr as expr;
pub mod measure;
pub mod policy;
pub mod processor;
pub mod recommend;
pub mod rng;
pub mod schedule;
pub mod spec;
pub mod state;
pub mod usecase;

pub use algo::ModelFile;
pub use catalog::Catalog;
pub use diagnostic::Diagnostic;
pub use event::{decode_json, DecodeError, Event};
pub use processor::{Action, Counters, Mode, Outputs, Processor, Source};
pub use state::CustomerState;
pub use usecase::{SourceFile, UseCaseSet, CATALOG_FILE};
