//! Lead-scoring funnels: a use case's score places the customer in a stage; reaching a new
//! stage emits a `stage_change` action (a measurement, not a contact).

use super::{action_id, Action, Evaluator, Trigger, Turn};
use crate::algo::Funnel;
use crate::duration::DAY_MS;
use crate::state::StageEntry;
use revenue_expr::Val;
use std::borrow::Cow;
use std::sync::Arc;

/// Action type and channel of funnel stage changes.
pub const STAGE_CHANGE: &str = "stage_change";
pub const FUNNEL_CHANNEL: &str = "funnel";

impl Evaluator {
    /// Emits one `stage_change` action per stage the score newly reaches (stages never go down).
    pub(super) fn advance_funnel(
        &self,
        index: usize,
        funnel: &Funnel,
        score: f64,
        turn: &mut Turn<'_>,
        trigger: &Trigger<'_, '_>,
    ) {
        let now = trigger.now;
        let reached = funnel.stage_of(score);
        let current = turn.state.stage(funnel.key);
        let from = current.map_or(0, |c| c.stage);
        if reached <= from {
            return;
        }
        let uc = &self.set.use_cases[index];
        let days = |ms: i64| Val::Double(((ms as f64 / DAY_MS as f64) * 100.0).round() / 100.0);
        let first_seen = turn.state.first_seen.min(now);
        let mut previous_since = current.map_or(first_seen, |c| c.since);
        for stage in from + 1..=reached {
            let name = &funnel.stages[stage as usize - 1].0;
            let previous: Val<'static> = match stage {
                1 => Val::Str(Cow::Borrowed("")),
                n => Val::Str(Cow::Owned(funnel.stages[n as usize - 2].0.to_string())),
            };
            let payload = vec![
                (Arc::from("stage"), Val::Str(Cow::Owned(name.to_string()))),
                (Arc::from("previous_stage"), previous),
                (Arc::from("days_in_previous_stage"), days(now - previous_since)),
                (Arc::from("days_since_first_seen"), days(now - first_seen)),
            ];
            let customer_id = trigger.event.customer_id();
            turn.out.action(Action {
                action_id: action_id(&uc.id, uc.version, customer_id, trigger.source, name),
                use_case_id: uc.id.clone(),
                use_case_version: uc.version,
                status: uc.status,
                tier: name.clone(),
                action_type: Arc::from(STAGE_CHANGE),
                channel: Arc::from(FUNNEL_CHANNEL),
                topic: funnel.topic.clone(),
                customer_id: customer_id.to_string(),
                event_type: trigger.event.event_type().to_string(),
                event_ts: now,
                score: Some(score),
                payload,
                recommendations: Vec::new(),
                decided_at: None,
                source_topic: trigger.source.topic.to_string(),
                source_partition: trigger.source.partition,
                source_offset: trigger.source.offset,
            });
            turn.counters.use_cases[index].stages_reached[stage as usize - 1] += 1;
            previous_since = now;
        }
        turn.state.set_stage(StageEntry {
            key: funnel.key,
            stage: reached,
            since: now,
        });
    }
}
