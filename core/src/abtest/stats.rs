//! The statistics of an A/B test, as the payee reads them: per variant the conversion rate
//! with a 95 % interval, and the probability that it beats every other variant.
//!
//! Method: a **Beta-Binomial posterior** (uniform Beta(1, 1) prior; after `c` conversions of
//! `n` visitors the rate is Beta(1 + c, 1 + n − c)). Chosen over a two-proportion z-test
//! because (1) "probability that B beats the others" is exactly what a payee asks and a
//! p-value is not that; (2) it covers 3–4 variants at once without pairwise tests and their
//! multiple-comparison corrections; (3) it behaves at small counts (0 conversions) where the
//! normal approximation of the z-test breaks. The probability is a deterministic numeric
//! integral — P(k best) = ∫ f_k(p) · Π_{j≠k} F_j(p) dp over a fixed grid — so results are
//! reproducible and the tests use no random numbers. Rates are statistics, not money: `f64`.
//!
//! The interval shown is Wilson's score interval (it stays inside [0, 1] and is good at small
//! counts). A winner is declared only when its probability is at least [`WINNER_PROBABILITY`]
//! *and* every variant has at least [`MIN_VISITORS`] visitors and the test at least
//! [`MIN_CONVERSIONS`] conversions (stopping early on a lucky streak is the usual A/B mistake).
//!
//! The crate denies float arithmetic so money never becomes `f64`; these are rates and
//! probabilities, never amounts, so this module alone allows it.
#![allow(clippy::float_arithmetic)]

use serde::Serialize;

/// Visitors every variant needs before a result is trusted.
pub const MIN_VISITORS: u64 = 100;
/// Conversions the whole test needs before a result is trusted.
pub const MIN_CONVERSIONS: u64 = 10;
/// Probability of beating all others that makes a variant the winner.
pub const WINNER_PROBABILITY: f64 = 0.95;
/// Grid points of the integral over the rate in [0, 1].
const GRID: usize = 20_000;
/// z for a two-sided 95 % interval.
const Z95: f64 = 1.959_963_984_540_054;

/// What was counted for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Arm {
    /// Visitors who saw it (each once).
    pub visitors: u64,
    /// Of them, those who converted.
    pub conversions: u64,
}

/// One variant's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmReport {
    /// Visitors.
    pub visitors: u64,
    /// Conversions.
    pub conversions: u64,
    /// conversions / visitors (0 without visitors).
    pub rate: f64,
    /// Lower end of the 95 % Wilson interval.
    pub low: f64,
    /// Upper end of the 95 % Wilson interval.
    pub high: f64,
    /// Posterior probability that this variant's rate is the highest.
    pub prob_best: f64,
}

/// The whole test.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Per variant, in order.
    pub arms: Vec<ArmReport>,
    /// Whether the minimum sample is reached (otherwise the dashboard warns).
    pub enough_data: bool,
    /// The variant that beats the others with ≥ 95 % probability on enough data.
    pub winner: Option<usize>,
    /// The warning to show when there is not enough data, in Chinese.
    pub warning: Option<String>,
}

/// The 95 % Wilson score interval of `c` of `n`; (0, 0) without visitors.
pub fn wilson(arm: Arm) -> (f64, f64) {
    if arm.visitors == 0 {
        return (0.0, 0.0);
    }
    let n = arm.visitors as f64;
    let p = arm.conversions.min(arm.visitors) as f64 / n;
    let z2 = Z95 * Z95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = Z95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / (1.0 + z2 / n);
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The posterior of one arm on the grid's midpoints, normalised to sum to 1.
fn posterior(arm: Arm) -> Vec<f64> {
    let a = arm.conversions.min(arm.visitors) as f64; // α − 1
    let b = (arm.visitors - arm.conversions.min(arm.visitors)) as f64; // β − 1
    let log: Vec<f64> = (0..GRID)
        .map(|i| {
            let p = (i as f64 + 0.5) / GRID as f64;
            a * p.ln() + b * (1.0 - p).ln()
        })
        .collect();
    let max = log.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut mass: Vec<f64> = log.iter().map(|l| (l - max).exp()).collect();
    let total: f64 = mass.iter().sum();
    for m in &mut mass {
        *m /= total;
    }
    mass
}

/// P(arm k has the highest rate), for every k; sums to 1. Ties on a grid cell count half.
pub fn prob_best(arms: &[Arm]) -> Vec<f64> {
    if arms.is_empty() {
        return Vec::new();
    }
    let mass: Vec<Vec<f64>> = arms.iter().map(|a| posterior(*a)).collect();
    // cdf_below[j][i] = P(rate_j < cell i) + half the cell itself.
    let below: Vec<Vec<f64>> = mass
        .iter()
        .map(|m| {
            let mut acc = 0.0;
            m.iter()
                .map(|x| {
                    let v = acc + x / 2.0;
                    acc += x;
                    v
                })
                .collect()
        })
        .collect();
    (0..arms.len())
        .map(|k| {
            (0..GRID)
                .map(|i| {
                    let others: f64 = (0..arms.len())
                        .filter(|&j| j != k)
                        .map(|j| below[j][i])
                        .product();
                    mass[k][i] * others
                })
                .sum::<f64>()
        })
        .collect()
}

/// Everything the dashboard shows for a test.
pub fn report(arms: &[Arm]) -> Report {
    let probs = prob_best(arms);
    let enough_data = !arms.is_empty()
        && arms.iter().all(|a| a.visitors >= MIN_VISITORS)
        && arms.iter().map(|a| a.conversions).sum::<u64>() >= MIN_CONVERSIONS;
    let winner = if enough_data && arms.len() >= 2 {
        probs.iter().position(|&p| p >= WINNER_PROBABILITY)
    } else {
        None
    };
    let warning = (!enough_data).then(|| {
        format!(
            "样本还不够：每个版本至少 {MIN_VISITORS} 位访客、全部至少 {MIN_CONVERSIONS} 次转化后再看结果，过早下结论容易看错"
        )
    });
    Report {
        arms: arms
            .iter()
            .zip(&probs)
            .map(|(a, &p)| {
                let (low, high) = wilson(*a);
                ArmReport {
                    visitors: a.visitors,
                    conversions: a.conversions,
                    rate: if a.visitors == 0 {
                        0.0
                    } else {
                        a.conversions.min(a.visitors) as f64 / a.visitors as f64
                    },
                    low,
                    high,
                    prob_best: p,
                }
            })
            .collect(),
        enough_data,
        winner,
        warning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arm(visitors: u64, conversions: u64) -> Arm {
        Arm {
            visitors,
            conversions,
        }
    }

    #[test]
    fn equal_rates_give_no_winner() {
        let r = report(&[arm(2000, 200), arm(2000, 200)]);
        assert!(r.enough_data);
        assert_eq!(r.winner, None);
        for a in &r.arms {
            assert!((a.prob_best - 0.5).abs() < 0.01, "{r:?}");
        }
        let three = report(&[arm(1000, 50), arm(1000, 50), arm(1000, 50)]);
        assert_eq!(three.winner, None);
        assert!(three
            .arms
            .iter()
            .all(|a| (a.prob_best - 1.0 / 3.0).abs() < 0.01));
    }

    #[test]
    fn a_clear_difference_at_two_thousand_gives_a_winner() {
        // 10 % against 14 % with 2 000 visitors each: z ≈ 3.9.
        let r = report(&[arm(2000, 200), arm(2000, 280)]);
        assert_eq!(r.winner, Some(1), "{r:?}");
        assert!(r.arms[1].prob_best > 0.999, "{r:?}");
        let sum: f64 = r.arms.iter().map(|a| a.prob_best).sum();
        assert!((sum - 1.0).abs() < 1e-6);
        // The same difference at 100 visitors each is not enough to be sure.
        let small = report(&[arm(100, 10), arm(100, 14)]);
        assert_eq!(small.winner, None);
        assert!(small.arms[1].prob_best > 0.5 && small.arms[1].prob_best < 0.95);
    }

    #[test]
    fn the_probability_matches_the_normal_approximation_for_two_arms() {
        // P(B > A) ≈ Φ((pB − pA) / sqrt(vA + vB)) for large n: 10 % vs 11 % at 2 000 → ≈ 0.85.
        let r = prob_best(&[arm(2000, 200), arm(2000, 220)]);
        let (pa, pb) = (201.0 / 2002.0, 221.0 / 2002.0);
        let v = |p: f64| p * (1.0 - p) / 2003.0;
        let z = (pb - pa) / (v(pa) + v(pb)).sqrt();
        // Φ(z) by the Abramowitz–Stegun erf approximation (error < 1.5e-7).
        let t = 1.0 / (1.0 + 0.327_591_1 * z / std::f64::consts::SQRT_2);
        let poly = t
            * (0.254_829_592
                + t * (-0.284_496_736
                    + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
        let phi = 1.0 - 0.5 * poly * (-(z * z) / 2.0).exp();
        assert!((r[1] - phi).abs() < 0.01, "{} vs {phi}", r[1]);
    }

    #[test]
    fn too_small_a_sample_warns_and_never_wins() {
        let r = report(&[arm(50, 0), arm(50, 25)]);
        assert!(!r.enough_data);
        assert!(r.arms[1].prob_best > 0.99);
        assert_eq!(r.winner, None);
        assert!(r.warning.unwrap().contains("样本还不够"));
    }

    #[test]
    fn wilson_interval_known_values() {
        // 10 of 100: the textbook Wilson interval is [0.0552, 0.1744].
        let (lo, hi) = wilson(arm(100, 10));
        assert!(
            (lo - 0.0552).abs() < 5e-4 && (hi - 0.1744).abs() < 5e-4,
            "{lo} {hi}"
        );
        let (lo, hi) = wilson(arm(20, 0));
        assert_eq!(lo, 0.0);
        assert!(hi > 0.15 && hi < 0.17, "{hi}");
        assert_eq!(wilson(arm(0, 0)), (0.0, 0.0));
    }
}
