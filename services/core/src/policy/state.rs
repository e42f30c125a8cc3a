//! What the policy remembers about one customer: consent, contact history, deferred actions,
//! attribution windows and the latest decisions. It travels with the customer's state.

use super::{ChannelPolicy, ALL_CHANNELS, KEEP_DECISIONS};
use crate::measure::GroupTotals;
use crate::spec::ConsentMode;
use revenue_expr::Val;
use smallvec::SmallVec;
use std::sync::Arc;

/// The customer's consent for one channel (latest event time wins).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Consent {
    pub channel: u64,
    pub granted: bool,
    pub ts: i64,
}

/// One action (or held-out decision) in the customer's contact history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Contact {
    pub ts: i64,
    pub channel: u64,
    pub use_case: u64,
    pub priority: u32,
    /// Expected value, when the use case states one.
    pub value: Option<f64>,
    /// A control-group decision: counts like a contact, so both groups meet the same policy.
    pub held_out: bool,
}

/// An action waiting for the end of the customer's quiet hours: delivered as it was decided.
#[derive(Debug, Clone, PartialEq)]
pub struct Deferred {
    pub use_case: u64,
    /// The tier's history key.
    pub tier: u64,
    pub due: i64,
    pub decided_at: i64,
    pub score: Option<f64>,
    /// The action's payload and recommendations as decided; `None` only in state written
    /// before format 4 (then they are computed at delivery, as that version did).
    pub decided: Option<Box<Decided>>,
}

/// What a deferred action carries as it was decided.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decided {
    pub payload: Vec<(Arc<str>, Val<'static>)>,
    pub recommendations: Vec<(String, f64)>,
}

/// An attribution window opened by a decision of one use case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exposure {
    pub use_case: u64,
    pub control: bool,
    pub start: i64,
    pub converted: bool,
    pub revenue: f64,
}

/// One decision, remembered for explanation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DecisionEntry {
    pub use_case: u64,
    pub tier: u64,
    pub ts: i64,
    /// [`Outcome::code`](super::Outcome::code).
    pub outcome: u8,
    /// [`Reason`](super::Reason) as u8, 255 for none.
    pub reason: u8,
    pub score: Option<f64>,
}

/// What the policy remembers about one customer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyState {
    pub consent: SmallVec<[Consent; 1]>,
    pub contacts: SmallVec<[Contact; 2]>,
    pub deferred: SmallVec<[Deferred; 1]>,
    pub exposures: SmallVec<[Exposure; 1]>,
    pub decisions: SmallVec<[DecisionEntry; 2]>,
}

impl PolicyState {
    pub fn is_empty(&self) -> bool {
        self.consent.is_empty()
            && self.contacts.is_empty()
            && self.deferred.is_empty()
            && self.exposures.is_empty()
            && self.decisions.is_empty()
    }

    pub fn set_consent(&mut self, channel: u64, granted: bool, ts: i64) {
        match self.consent.iter_mut().find(|c| c.channel == channel) {
            Some(c) if ts >= c.ts => {
                c.granted = granted;
                c.ts = ts;
            }
            Some(_) => {} // an older event does not overrule a newer one
            None => self.consent.push(Consent { channel, granted, ts }),
        }
        // an all-channel event at least as new replaces the per-channel ones it overrules
        if channel == ALL_CHANNELS {
            self.consent.retain(|c| c.channel == ALL_CHANNELS || c.ts > ts);
        }
    }

    /// Whether the customer may be contacted in `channel` (the newest applicable event wins).
    pub fn consents(&self, channel: &ChannelPolicy) -> bool {
        let newest = self
            .consent
            .iter()
            .filter(|c| c.channel == channel.key || c.channel == ALL_CHANNELS)
            .max_by_key(|c| (c.ts, c.channel != ALL_CHANNELS));
        match newest {
            Some(c) => c.granted,
            None => channel.consent == ConsentMode::OptOut,
        }
    }

    /// Whether the customer has ever withdrawn consent (kept even when the rest expires).
    pub fn has_withdrawal(&self) -> bool {
        self.consent.iter().any(|c| !c.granted)
    }

    pub fn forget_before(&mut self, horizon_start: i64, attribution_start: i64) {
        self.contacts.retain(|c| c.ts >= horizon_start);
        // exactly one attribution window old: closed
        self.exposures.retain(|e| e.start > attribution_start);
    }

    pub fn remember(&mut self, entry: DecisionEntry) {
        if self.decisions.len() >= KEEP_DECISIONS {
            self.decisions.remove(0);
        }
        self.decisions.push(entry);
    }

    /// Opens an attribution window for the use case unless one is open at `now` (and at the
    /// customer's `clock`); counts the exposure.
    pub fn open_exposure(
        &mut self,
        use_case: u64,
        control: bool,
        (now, clock): (i64, i64),
        window: i64,
        totals: &mut GroupTotals,
    ) {
        let open = self
            .exposures
            .iter()
            .any(|e| e.use_case == use_case && now >= e.start && now - e.start < window && clock - e.start < window);
        if open {
            return;
        }
        self.exposures.retain(|e| e.use_case != use_case);
        self.exposures.push(Exposure {
            use_case,
            control,
            start: now,
            converted: false,
            revenue: 0.0,
        });
        totals.exposed += 1;
    }

    /// Attributes a conversion worth `value` at `ts` to the attribution windows open then
    /// (`window` long) and still open at the customer's `clock`: `credit` counts it for the
    /// exposure's group and says whether the use case is still known; only then the exposure
    /// takes the revenue.
    pub fn attribute(
        &mut self,
        (ts, clock): (i64, i64),
        window: i64,
        value: f64,
        mut credit: impl FnMut(&Exposure) -> bool,
    ) {
        for exposure in self.exposures.iter_mut() {
            // a window ends before its length: exactly one window later is outside
            if ts < exposure.start || ts - exposure.start >= window || clock - exposure.start >= window {
                continue;
            }
            if !credit(exposure) {
                continue;
            }
            exposure.revenue += value;
            exposure.converted = true;
        }
    }
}
