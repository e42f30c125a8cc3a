pub mod bench;
pub mod demo;
pub mod replay;
pub mod run;
pub mod schema;
pub mod validate;
