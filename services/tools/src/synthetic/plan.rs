//! Planning every event of a run: when each company's profile arrives, its behaviour scaled to
//! the event budget, the exact count, consent decisions and strictly increasing timestamps.

use super::behaviour::Planner;
use super::catalogue::{Catalogue, NO_PRODUCT};
use super::company::Company;
use super::content::GENERIC_CAMPAIGNS;
use super::event::{Kind, Page, Raw};
use super::persona::Persona;
use super::{SyntheticConfig, DAY, HOUR, MINUTE};
use revenue_core::rng::Rng;

/// Plans every event: profiles, then each company's behaviour at a scale that fills the budget,
/// then exactly the configured count (newsletter opens fill up, random drops trim), in time order.
pub(super) fn plan(
    config: &SyntheticConfig,
    companies: &[Company],
    personas: &[Persona],
    catalogue: &Catalogue,
) -> Vec<Raw> {
    let total = config.events as usize;
    let start = config.start_ts;
    // raw times stay below `hi`, so making them strictly increasing cannot leave the span
    let hi = start + i64::from(config.days) * DAY - total as i64;
    let active = companies.len().min(total);
    let budget = total - active;
    let profile_ts: Vec<i64> = (0..active)
        .map(|i| {
            let mut rng = Rng::for_stream(config.seed, 0x1_0000_0000 + i as u64);
            start + rng.range(0, (12 * HOUR).min((hi - start) / 4))
        })
        .collect();
    let behave = |scale: f64| {
        let mut out = Vec::with_capacity(budget + budget / 8);
        for (i, &at) in profile_ts.iter().enumerate() {
            let mut planner = Planner {
                rng: Rng::for_stream(config.seed, 0x2_0000_0000 + i as u64),
                company: i as u32,
                seq: 1,
                lo: at + 10 * MINUTE,
                hi,
                scale,
                out: &mut out,
                catalogue,
                employees: companies[i].employees,
            };
            planner.behave(personas[i]);
        }
        out
    };
    let mut events = if budget == 0 {
        Vec::new()
    } else {
        // calibrate: behaviour at scale 1, then scaled so that about 97 % of the budget is
        // behaviour and the rest newsletter opens and home page visits
        let natural = behave(1.0).len();
        let scale = if natural == 0 {
            1.0
        } else {
            0.97 * budget as f64 / natural as f64
        };
        behave(scale)
    };
    let mut rng = Rng::for_stream(config.seed, 0xF1);
    if events.len() > budget {
        // drop random events (a partial Fisher-Yates shuffle picks which)
        let excess = events.len() - budget;
        for k in 0..excess {
            let j = k + rng.below((events.len() - k) as u64) as usize;
            events.swap(k, j);
        }
        events.drain(..excess);
    }
    let mut seq = u32::MAX / 2;
    while events.len() < budget {
        let company = rng.below(active as u64) as usize;
        let ts = business_time(&mut rng, profile_ts[company] + 10 * MINUTE, hi);
        let kind = if rng.chance(0.7) {
            Kind::EmailOpen(rng.pick(&GENERIC_CAMPAIGNS))
        } else {
            Kind::Page(Page::Home, NO_PRODUCT)
        };
        events.push(Raw {
            ts,
            company: company as u32,
            seq,
            kind,
        });
        seq += 1;
    }
    events.extend(profile_ts.iter().enumerate().map(|(i, &ts)| Raw {
        ts,
        company: i as u32,
        seq: 0,
        kind: Kind::Profile,
    }));
    consent_decisions(config, &mut events);
    events.sort_unstable_by_key(|r| (r.ts, r.company, r.seq));
    let mut last = i64::MIN;
    for r in &mut events {
        r.ts = r.ts.max(last.saturating_add(1));
        last = r.ts;
    }
    events
}

/// About 5 % of the companies manage their consent: their first newsletter open becomes an
/// opt-out (of e-mail, telemarketing or everything) or a telemarketing opt-in. Replacing an
/// event keeps the count exact and every other event as it was.
fn consent_decisions(config: &SyntheticConfig, events: &mut [Raw]) {
    let mut decided = rustc_hash::FxHashSet::default();
    for raw in events.iter_mut() {
        if !matches!(raw.kind, Kind::EmailOpen(_)) || !decided.insert(raw.company) {
            continue;
        }
        let mut rng = Rng::for_stream(config.seed, 0x3_0000_0000 + u64::from(raw.company));
        if rng.chance(0.05) {
            let given = rng.chance(0.3);
            raw.kind = Kind::Consent(given, if given { 1 } else { rng.below(3) as u8 });
        }
    }
}

/// A time in `[lo, hi)`, mostly on weekdays in (central European) business hours.
pub(super) fn business_time(rng: &mut Rng, lo: i64, hi: i64) -> i64 {
    let mut t = lo;
    for _ in 0..8 {
        t = rng.range(lo, hi);
        let hour = t.rem_euclid(DAY) / HOUR; // UTC
        let weekday = (t.div_euclid(DAY) + 3).rem_euclid(7); // 0 = Monday (1970-01-01 was a Thursday)
        if (weekday < 5 && (6..17).contains(&hour)) || rng.chance(0.1) {
            return t;
        }
    }
    t
}
