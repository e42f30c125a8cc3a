//! The contact policy (`policy.yaml`): frequency caps, cooldowns, quiet hours, consent,
//! arbitration between use cases, holdout groups and attribution. Compiled once per use-case
//! set; its per-customer memory ([`PolicyState`]) travels with the customer's state.

mod compile;
mod config;
mod parse;
mod rules;
mod state;
#[cfg(test)]
mod tests;

pub(crate) use compile::check_share;
pub use config::{Cap, ChannelPolicy, ConsentEvents, Conversion, Policy, QuietHours};
pub use parse::{parse_policy, ParsedPolicy};
pub use rules::{in_control, outranks, rank_order, Proposal};
pub use state::{Consent, Contact, Decided, DecisionEntry, Deferred, Exposure, PolicyState};

/// The optional policy file of a use-case directory.
pub const POLICY_FILE: &str = "policy.yaml";

/// Why a decision to act was not emitted (now).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Reason {
    Consent = 0,
    Cap = 1,
    Cooldown = 2,
    /// Deferred until the quiet hours end (sent then, unless consent is withdrawn meanwhile).
    QuietHours = 3,
    Arbitration = 4,
    Holdout = 5,
}

impl Reason {
    pub const ALL: [Reason; 6] = [
        Reason::Consent,
        Reason::Cap,
        Reason::Cooldown,
        Reason::QuietHours,
        Reason::Arbitration,
        Reason::Holdout,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Consent => "consent",
            Reason::Cap => "cap",
            Reason::Cooldown => "cooldown",
            Reason::QuietHours => "quiet_hours",
            Reason::Arbitration => "arbitration",
            Reason::Holdout => "holdout",
        }
    }

    pub fn from_u8(code: u8) -> Option<Reason> {
        Reason::ALL.get(code as usize).copied()
    }
}

/// What the policy made of one decision to act.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Emitted,
    /// Sent when the customer's quiet hours end, at this time.
    Deferred(i64),
    /// A control-group customer: no action, a "would have acted" record.
    HeldOut,
    Suppressed(Reason),
    /// A deferred action sent now.
    Delivered,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Emitted => "emitted",
            Outcome::Deferred(_) => "deferred",
            Outcome::HeldOut => "held_out",
            Outcome::Suppressed(_) => "suppressed",
            Outcome::Delivered => "delivered",
        }
    }

    pub fn reason(self) -> Option<Reason> {
        match self {
            Outcome::Suppressed(r) => Some(r),
            Outcome::Deferred(_) => Some(Reason::QuietHours),
            Outcome::HeldOut => Some(Reason::Holdout),
            _ => None,
        }
    }

    /// The name of a [`Outcome::code`] (`unknown` for codes this build does not know).
    pub fn name_of_code(code: u8) -> &'static str {
        match code {
            0 => "emitted",
            1 => "deferred",
            2 => "held_out",
            3 => "suppressed",
            4 => "delivered",
            _ => "unknown",
        }
    }

    /// Compact code for the state's decision log.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Emitted => 0,
            Outcome::Deferred(_) => 1,
            Outcome::HeldOut => 2,
            Outcome::Suppressed(_) => 3,
            Outcome::Delivered => 4,
        }
    }
}

/// Default attribution window without a `policy.yaml`.
pub const DEFAULT_ATTRIBUTION_WINDOW: i64 = 30 * crate::duration::DAY_MS;
/// Decisions a customer's state remembers for explanation (`GET /customers/{id}`).
pub const KEEP_DECISIONS: usize = 8;

/// Stable 64-bit key of a channel or use case name, as stored in customer state.
pub fn name_key(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

/// Consent entries under this key apply to every channel.
pub const ALL_CHANNELS: u64 = 0;
