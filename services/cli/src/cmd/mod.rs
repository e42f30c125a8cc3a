pub mod bench;
pub mod demo;
pub mod replay;
pub mod run;
pub mod schema;
pub mod synthetic;
pub mod train_recommender;
pub mod validate;
