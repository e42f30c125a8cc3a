//! Deterministic pseudo-random numbers for synthetic data, planted scenarios and tests: the same
//! seed always gives the same stream, on every platform. SplitMix64 is tiny, fast and good
//! enough for this; it is no cryptographic generator.

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function: a bijective scramble of a 64-bit word.
fn scramble(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of stream `stream` of a run seeded with `seed`: independent-looking streams (one per
/// company, per phase, …) from one user-given seed, each the same on every run.
pub fn stream_seed(seed: u64, stream: u64) -> u64 {
    scramble(seed ^ stream.wrapping_mul(GOLDEN_GAMMA).rotate_left(17))
}

/// A SplitMix64 generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// `Rng::new(stream_seed(seed, stream))`.
    pub fn for_stream(seed: u64, stream: u64) -> Rng {
        Rng::new(stream_seed(seed, stream))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN_GAMMA);
        scramble(self.0)
    }

    /// Uniform in `[0, 1)`, with 53 random bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[0, n)`; 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[lo, hi)`; `lo` when the range is empty (drawing nothing).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below(hi.abs_diff(lo)) as i64
    }

    /// Uniform integer in `[lo, hi]`.
    pub fn between(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.below(u64::from(hi.saturating_sub(lo)) + 1) as u32
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Log-uniform in `[lo, hi]`: as many values between 1 and 10 as between 100 and 1000.
    pub fn log_uniform(&mut self, lo: f64, hi: f64) -> f64 {
        (lo.ln() + (hi.ln() - lo.ln()) * self.f64()).exp()
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// One of `items`, uniformly.
    ///
    /// # Panics
    /// When `items` is empty.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An index drawn with the given relative weights (the last one when rounding runs past
    /// the total).
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.f64() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Standard normal (Box–Muller).
    pub fn gaussian(&mut self) -> f64 {
        let u1 = 1.0 - self.f64();
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Poisson with mean `mean` (a rounded normal above 30, where the exact method gets slow).
    pub fn poisson(&mut self, mean: f64) -> u32 {
        if mean <= 0.0 {
            return 0;
        }
        if mean > 30.0 {
            return (mean + self.gaussian() * mean.sqrt()).round().max(0.0) as u32;
        }
        let limit = (-mean).exp();
        let mut k = 0;
        let mut p = self.f64();
        while p > limit {
            k += 1;
            p *= self.f64();
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_reference_outputs() {
        // the published SplitMix64 sequence for seed 0
        let mut rng = Rng::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
    }

    #[test]
    fn same_seed_same_stream_other_stream_other_numbers() {
        let draw = |mut rng: Rng| -> Vec<u64> { (0..16).map(|_| rng.next_u64()).collect() };
        assert_eq!(draw(Rng::for_stream(7, 1)), draw(Rng::for_stream(7, 1)));
        assert_ne!(draw(Rng::for_stream(7, 1)), draw(Rng::for_stream(7, 2)));
        assert_ne!(draw(Rng::for_stream(7, 1)), draw(Rng::for_stream(8, 1)));
        assert_eq!(Rng::for_stream(7, 1).next_u64(), Rng::new(stream_seed(7, 1)).next_u64());
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let mut rng = Rng::new(42);
        for _ in 0..10_000 {
            assert!((0.0..1.0).contains(&rng.f64()));
            assert!(rng.below(7) < 7);
            assert!((-5..5).contains(&rng.range(-5, 5)));
            assert!((3..=6).contains(&rng.between(3, 6)));
            let x = rng.log_uniform(1.0, 1000.0);
            assert!((1.0..=1000.0).contains(&x), "{x}");
            assert!([1, 2, 3].contains(&rng.pick(&[1, 2, 3])));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.range(9, 9), 9);
        assert_eq!(rng.range(9, 3), 9);
        assert_eq!(rng.poisson(0.0), 0);
        assert_eq!(rng.weighted(&[]), 0);
    }

    #[test]
    fn weights_and_means_come_out_about_right() {
        let mut rng = Rng::new(3);
        let n = 20_000;
        let mut counts = [0u32; 3];
        for _ in 0..n {
            counts[rng.weighted(&[1.0, 0.0, 3.0])] += 1;
        }
        assert_eq!(counts[1], 0);
        let share = f64::from(counts[2]) / f64::from(n);
        assert!((0.73..0.77).contains(&share), "{share}");
        let mean = |rng: &mut Rng, m: f64| (0..n).map(|_| f64::from(rng.poisson(m))).sum::<f64>() / f64::from(n);
        for m in [0.5, 4.0, 50.0] {
            let got = mean(&mut rng, m);
            assert!((got - m).abs() < 0.05 * m.max(1.0), "poisson({m}) mean {got}");
        }
        let chances = (0..n).filter(|_| rng.chance(0.2)).count() as f64 / f64::from(n);
        assert!((0.18..0.22).contains(&chances), "{chances}");
    }
}
