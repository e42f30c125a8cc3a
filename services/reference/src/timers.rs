//! Timers and expiry (README.md, *Algorithms*: `data.timer`, `expire_after`): per customer, at
//! most one timer per use case, started by events (`start_on`) and actions
//! (`start_on_actions`), cancelled by events (`cancel_on`), firing at most once; an idle
//! customer's whole state leaves at `expire_after` after its latest event time.

use crate::features::clock;
use crate::model::{Customer, RefAction, Reference, Trigger};
use crate::spec::{Event, Status, UseCase};

/// What comes due next: (time, customer, 0 and the use case's index for a timer, or 1 for the
/// expiry), so that of equal times a timer fires before the customer expires.
type Due = (i64, String, u8, usize);

fn next_due(r: &Reference) -> Option<Due> {
    let mut all: Vec<Due> = Vec::new();
    for (id, c) in &r.customers {
        for (uc, due) in &c.timers {
            let index = r.use_cases.iter().position(|u| &u.id == uc).unwrap_or(usize::MAX);
            all.push((*due, id.clone(), 0, index));
        }
        if let (Some(ttl), Some(at)) = (r.expire_after, clock(&c.events)) {
            all.push((at.saturating_add(ttl), id.clone(), 1, 0));
        }
    }
    all.into_iter().min()
}

/// Replay, before each event and at the end of the input: everything due by `until` (the latest
/// event time read) fires, earliest first; of equal times, by customer id, then timers by
/// use-case id before the expiry. A timer is evaluated with event type `timer` at its due time.
pub fn fire_due(r: &mut Reference, until: i64, actions: &mut Vec<RefAction>) {
    while let Some((at, customer, kind, index)) = next_due(r).filter(|d| d.0 <= until) {
        if kind == 1 {
            r.customers.remove(&customer);
            continue;
        }
        let Some(uc) = r.use_cases.get(index) else { return };
        let id = uc.id.clone();
        if let Some(c) = r.customers.get_mut(&customer) {
            c.timers.remove(&id);
        }
        let trigger = Trigger {
            event_type: "timer".into(),
            now: at,
        };
        r.evaluate_all(&customer, &[index], &trigger, actions);
    }
}

/// An event cancels the timers whose `cancel_on` names its type, then (re)starts those whose
/// `start_on` does, at its event time.
pub fn on_event(use_cases: &[UseCase], customer: &mut Customer, event: &Event) {
    for uc in use_cases.iter().filter(|u| Reference::evaluated(u)) {
        let Some(timer) = &uc.timer else { continue };
        if timer.cancel_on.contains(&event.ty) {
            customer.timers.remove(&uc.id);
        }
        if timer.start_on.contains(&event.ty) {
            customer.timers.insert(uc.id.clone(), event.ts + timer.after);
        }
    }
}

/// An action of use case `source`, tier `tier`, at `now` (re)starts the timers linked to it; a
/// shadow use case's actions start only shadow use cases' timers.
pub fn on_action(use_cases: &[UseCase], customer: &mut Customer, source: usize, tier: usize, now: i64) {
    let from = &use_cases[source];
    for uc in use_cases.iter().filter(|u| Reference::evaluated(u)) {
        let Some(timer) = &uc.timer else { continue };
        if from.status == Status::Shadow && uc.status != Status::Shadow {
            continue;
        }
        let linked = timer
            .start_on_actions
            .iter()
            .any(|(id, t)| *id == from.id && t.as_ref().is_none_or(|t| *t == from.tiers[tier].name));
        if linked {
            customer.timers.insert(uc.id.clone(), now + timer.after);
        }
    }
}
