//! What a processor counts: events, and per use case its evaluations, actions, policy outcomes
//! and attribution totals.

use crate::measure::GroupTotals;
use crate::usecase::UseCaseSet;

/// Counters per use case, in the set's order.
#[derive(Debug, Clone, Default)]
pub struct UseCaseCounters {
    pub evaluations: u64,
    /// Actions by tier index.
    pub actions_by_tier: Vec<u64>,
    /// A tier's condition held but its re-trigger policy stopped it.
    pub retrigger_blocked: u64,
    /// Evaluations that failed at run time (e.g. integer overflow); no action was taken.
    pub errors: u64,
    /// Evaluations triggered by this use case's timer coming due.
    pub timers_fired: u64,
    /// Funnel stages reached, by stage index.
    pub stages_reached: Vec<u64>,
    /// Decisions to act not emitted (now), by [`Reason`] code.
    pub suppressed: [u64; 6],
    /// Decisions deferred by quiet hours (also counted under `quiet_hours`), and delivered later.
    pub deferred: u64,
    pub deferred_delivered: u64,
    /// Attribution: customers acted on, and held out.
    pub treatment: GroupTotals,
    pub control: GroupTotals,
}

impl UseCaseCounters {
    /// Every action decided: the tiers' and the funnel's `stage_change` ones.
    pub fn actions(&self) -> u64 {
        self.actions_by_tier.iter().sum::<u64>() + self.stages_reached.iter().sum::<u64>()
    }
}

#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub events: u64,
    /// Events whose type the catalog does not declare: they change nothing.
    pub unknown_type: u64,
    /// Customers whose state expired (idle longer than `expire_after`).
    pub expired: u64,
    pub use_cases: Vec<UseCaseCounters>,
}

impl Counters {
    pub fn for_set(set: &UseCaseSet) -> Counters {
        Counters {
            use_cases: set
                .use_cases
                .iter()
                .map(|uc| UseCaseCounters {
                    actions_by_tier: vec![0; uc.tiers.len()],
                    stages_reached: vec![0; uc.funnel.as_ref().map_or(0, |f| f.stages.len())],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }
}
