//! Axis scales: a linear map from data values to pixels over a domain with round ticks.

/// A linear map from data values to pixels over a "nice" domain (round tick steps).
#[derive(Debug, Clone, PartialEq)]
pub struct Scale {
    pub domain: (f64, f64),
    pub range: (f64, f64),
    pub ticks: Vec<f64>,
}

impl Scale {
    /// A domain covering `values` and zero, widened to round ticks (about five).
    pub fn nice(values: impl IntoIterator<Item = f64>, range: (f64, f64)) -> Scale {
        let (mut lo, mut hi) = (0.0f64, 0.0f64);
        for v in values.into_iter().filter(|v| v.is_finite()) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
            hi = lo + 1.0;
        }
        let step = nice_step((hi - lo) / 5.0);
        let lo = (lo / step).floor() * step;
        let hi = (hi / step).ceil() * step;
        let n = ((hi - lo) / step).round() as usize;
        // ticks from multiples of the step, so they carry no accumulated rounding
        let ticks = (0..=n).map(|i| clean(lo + i as f64 * step)).collect();
        Scale {
            domain: (lo, hi),
            range,
            ticks,
        }
    }

    pub fn px(&self, v: f64) -> f64 {
        let (d0, d1) = self.domain;
        let (r0, r1) = self.range;
        let v = if v.is_finite() { v.clamp(d0, d1) } else { d0 };
        r0 + (v - d0) / (d1 - d0) * (r1 - r0)
    }
}

fn nice_step(raw: f64) -> f64 {
    let exponent = raw.log10().floor();
    let base = 10f64.powf(exponent);
    let f = raw / base;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * base
}

/// Rounds away float noise such as 0.30000000000000004.
fn clean(x: f64) -> f64 {
    let r = (x * 1e9).round() / 1e9;
    if r == 0.0 {
        0.0
    } else {
        r
    }
}
