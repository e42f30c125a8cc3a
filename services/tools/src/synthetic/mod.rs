//! Realistic, deterministic synthetic B2B events for the reference use cases (`usecases/reference`):
//! the engine's one-command demo produces them to Kafka, tests replay them.
//!
//! Every company first sends a `company_profile`; then it behaves as one of a few segments:
//! - **dormant** (about a third): a newsletter open or a stray home page view now and then;
//! - **telecom customers** with 1–3 service contracts: *quiet* ones only read support pages and
//!   e-mails, *curious* ones look at a pricing page once (warm-up campaign), *hot* ones run a
//!   project: pricing pages, a webinar, e-mail clicks (telemarketing, and often an MQL);
//! - **distributor buyers** ordering from a catalogue of 300 products: *EDI* buyers only order,
//!   *returning* buyers browse a few products now and then (web and e-mail recommendations),
//!   *power* buyers browse intensively in project weeks (field-sales task); *prospects* browse
//!   without ever ordering;
//! - **marketing leads**: *cold* ones open e-mails, *warm* ones click and look at prices once,
//!   *hot* ones attend webinars and study prices (marketing-qualified).
//!
//! Activity comes in sessions of several page views, mostly on weekdays in business hours, spread
//! over the configured days. The same seed always gives the same events; the number of events is
//! exactly `SyntheticConfig::events`, with strictly increasing timestamps.

mod behaviour;
mod catalogue;
mod company;
mod content;
mod event;
mod generator;
mod persona;
mod plan;
#[cfg(test)]
mod tests;

pub use company::Company;
pub use generator::Generator;

const SECOND: i64 = 1_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// What to generate.
#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    pub seed: u64,
    pub companies: u32,
    /// Exactly this many events are generated (company profiles included).
    pub events: u64,
    /// Epoch milliseconds of the first possible event.
    pub start_ts: i64,
    /// Days the events cover: every timestamp is in `[start_ts, start_ts + days)`.
    pub days: u32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            seed: 7,
            companies: 2_000,
            events: 30_000,
            start_ts: 1_793_491_200_000, // 2026-11-01T00:00:00Z
            days: 30,
        }
    }
}

/// Which input topic an event belongs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Web, e-mail and webinar interactions.
    Behaviour,
    /// Purchases, contracts and firmographics from the ERP / CRM.
    Transaction,
    /// Opt-ins and opt-outs from the consent management platform.
    Consent,
}

/// One generated event: the JSON object as it goes to Kafka, keyed by `customer_id`.
#[derive(Debug, Clone)]
pub struct SyntheticEvent {
    pub stream: Stream,
    pub customer_id: String,
    pub ts: i64,
    pub json: String,
}
