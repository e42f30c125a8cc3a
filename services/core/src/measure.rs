//! Measurement of a use case against its control group: conversion rates, revenue per exposed
//! customer, lift and incremental revenue, each with a confidence interval. Pure arithmetic on
//! totals that add up (across partitions, pods and runs), so Prometheus sums and replay agree.

use serde::{Deserialize, Serialize};

/// z for a two-sided 95 % interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Totals of one group (treatment or control) of one use case. Unit: an *exposure*, one
/// customer's attribution window opened by a decision to act (or to hold out).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GroupTotals {
    /// Exposures opened.
    pub exposed: u64,
    /// Exposures with at least one conversion in their window.
    pub converted: u64,
    /// Conversion events attributed (several per exposure possible).
    pub conversions: u64,
    /// Revenue attributed: Σ over exposures of their revenue.
    pub revenue: f64,
    /// Σ over exposures of (their revenue)², for the variance of revenue per exposure.
    pub revenue_squared: f64,
}

impl GroupTotals {
    /// Adds a conversion of `value` to an exposure that had `before` revenue and
    /// `converted_before` conversions.
    pub fn add_conversion(&mut self, before: f64, first: bool, value: f64) {
        if first {
            self.converted += 1;
        }
        self.conversions += 1;
        self.revenue += value;
        let after = before + value;
        self.revenue_squared += after * after - before * before;
    }

    /// What was added since `earlier` (an older snapshot of the same totals).
    pub fn since(&self, earlier: &GroupTotals) -> GroupTotals {
        GroupTotals {
            exposed: self.exposed.saturating_sub(earlier.exposed),
            converted: self.converted.saturating_sub(earlier.converted),
            conversions: self.conversions.saturating_sub(earlier.conversions),
            revenue: self.revenue - earlier.revenue,
            revenue_squared: self.revenue_squared - earlier.revenue_squared,
        }
    }

    pub fn merge(&mut self, other: &GroupTotals) {
        self.exposed += other.exposed;
        self.converted += other.converted;
        self.conversions += other.conversions;
        self.revenue += other.revenue;
        self.revenue_squared += other.revenue_squared;
    }

    /// Share of exposures that converted.
    pub fn conversion_rate(&self) -> Option<f64> {
        (self.exposed > 0).then(|| self.converted as f64 / self.exposed as f64)
    }

    /// Mean revenue per exposure and its sample variance.
    fn revenue_moments(&self) -> Option<(f64, f64)> {
        if self.exposed < 2 {
            return None;
        }
        let n = self.exposed as f64;
        let mean = self.revenue / n;
        let variance = ((self.revenue_squared - self.revenue * mean) / (n - 1.0)).max(0.0);
        Some((mean, variance))
    }
}

/// An estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub estimate: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn contains(&self, value: f64) -> bool {
        self.lower <= value && value <= self.upper
    }

    /// The interval excludes zero.
    pub fn significant(&self) -> bool {
        self.lower > 0.0 || self.upper < 0.0
    }

    fn scaled(self, factor: f64) -> Interval {
        Interval {
            estimate: self.estimate * factor,
            lower: self.lower * factor,
            upper: self.upper * factor,
        }
    }
}

/// Treatment against control for one use case.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Lift {
    /// Confidence level of the intervals (0.95).
    pub confidence: f64,
    pub treatment_rate: f64,
    pub control_rate: f64,
    /// Treatment rate − control rate (Newcombe's hybrid score interval).
    pub rate_difference: Interval,
    /// Treatment rate ÷ control rate − 1 (None while the control has no conversion).
    pub relative_lift: Option<f64>,
    /// The rate difference's interval excludes zero.
    pub significant: bool,
    /// Mean revenue per treated exposure − per control exposure (Welch, normal approximation);
    /// None with fewer than two exposures in a group.
    pub revenue_per_exposure_difference: Option<Interval>,
    /// `revenue_per_exposure_difference` × treated exposures: revenue the use case added.
    pub incremental_revenue: Option<Interval>,
}

/// Lift of `treatment` over `control` at 95 % confidence; None until both groups have exposures.
pub fn lift(treatment: &GroupTotals, control: &GroupTotals) -> Option<Lift> {
    let p_t = treatment.conversion_rate()?;
    let p_c = control.conversion_rate()?;
    let (l_t, u_t) = wilson(treatment.converted, treatment.exposed, Z95);
    let (l_c, u_c) = wilson(control.converted, control.exposed, Z95);
    let d = p_t - p_c;
    let rate_difference = Interval {
        estimate: d,
        lower: d - ((p_t - l_t).powi(2) + (u_c - p_c).powi(2)).sqrt(),
        upper: d + ((u_t - p_t).powi(2) + (p_c - l_c).powi(2)).sqrt(),
    };
    let revenue_per_exposure_difference = match (treatment.revenue_moments(), control.revenue_moments()) {
        (Some((m_t, v_t)), Some((m_c, v_c))) => {
            let se = (v_t / treatment.exposed as f64 + v_c / control.exposed as f64).sqrt();
            Some(Interval {
                estimate: m_t - m_c,
                lower: m_t - m_c - Z95 * se,
                upper: m_t - m_c + Z95 * se,
            })
        }
        _ => None,
    };
    Some(Lift {
        confidence: 0.95,
        treatment_rate: p_t,
        control_rate: p_c,
        rate_difference,
        relative_lift: (p_c > 0.0).then(|| p_t / p_c - 1.0),
        significant: rate_difference.significant(),
        revenue_per_exposure_difference,
        incremental_revenue: revenue_per_exposure_difference.map(|i| i.scaled(treatment.exposed as f64)),
    })
}

/// Wilson score interval of `successes` out of `n`.
fn wilson(successes: u64, n: u64, z: f64) -> (f64, f64) {
    let n = n as f64;
    let p = successes as f64 / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// Return on a cost: (incremental revenue − cost) ÷ cost; None without cost.
pub fn roi(incremental_revenue: f64, cost: f64) -> Option<f64> {
    (cost > 0.0).then(|| (incremental_revenue - cost) / cost)
}

#[cfg(test)]
mod tests {
    use super::*;
    // deterministic, so the coverage checks are repeatable
    use crate::rng::Rng;

    fn group(rng: &mut Rng, n: u64, rate: f64, value: f64) -> GroupTotals {
        let mut g = GroupTotals::default();
        for _ in 0..n {
            g.exposed += 1;
            if rng.chance(rate) {
                g.add_conversion(0.0, true, value * (0.5 + rng.f64()));
            }
        }
        g
    }

    #[test]
    fn totals_add_up_per_exposure() {
        let mut g = GroupTotals {
            exposed: 2,
            ..Default::default()
        };
        g.add_conversion(0.0, true, 10.0);
        g.add_conversion(10.0, false, 5.0);
        g.add_conversion(0.0, true, 3.0);
        assert_eq!((g.converted, g.conversions), (2, 3));
        assert_eq!(g.revenue, 18.0);
        assert_eq!(g.revenue_squared, 15.0 * 15.0 + 3.0 * 3.0);
    }

    #[test]
    fn planted_uplift_is_covered_and_zero_uplift_is_rarely_significant() {
        let (mut covered, mut false_positives, mut revenue_covered) = (0, 0, 0);
        let runs = 200;
        for seed in 0..runs {
            let mut rng = Rng::new(seed);
            let t = group(&mut rng, 4000, 0.08, 100.0);
            let c = group(&mut rng, 4000, 0.05, 100.0);
            let l = lift(&t, &c).unwrap();
            covered += u32::from(l.rate_difference.contains(0.03));
            let planted_revenue = 0.03 * 100.0 * 4000.0;
            revenue_covered += u32::from(l.incremental_revenue.unwrap().contains(planted_revenue));
            let t0 = group(&mut rng, 4000, 0.05, 100.0);
            let c0 = group(&mut rng, 4000, 0.05, 100.0);
            false_positives += u32::from(lift(&t0, &c0).unwrap().significant);
        }
        // 95 % intervals: expect ~190 of 200 covered and ~10 false positives
        assert!(
            covered >= 180,
            "rate interval covered the planted uplift in {covered}/{runs}"
        );
        assert!(
            revenue_covered >= 180,
            "revenue interval covered in {revenue_covered}/{runs}"
        );
        assert!(
            false_positives <= 20,
            "zero uplift significant in {false_positives}/{runs}"
        );
    }

    #[test]
    fn small_and_empty_groups() {
        let empty = GroupTotals::default();
        let one = GroupTotals {
            exposed: 1,
            converted: 1,
            conversions: 1,
            revenue: 5.0,
            revenue_squared: 25.0,
        };
        assert!(lift(&empty, &one).is_none());
        let l = lift(&one, &one).unwrap();
        assert!(l.revenue_per_exposure_difference.is_none());
        assert!(!l.significant, "one customer each proves nothing");
        assert!(l.relative_lift.is_some());
        assert_eq!(roi(150.0, 0.0), None);
        assert_eq!(roi(150.0, 50.0), Some(2.0));
    }
}
