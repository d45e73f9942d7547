//! Decay: effective weight = weight · 0.5^(age / half_life), age from
//! `reinforced_at` to `now` and never negative (an edge reinforced "in the
//! future" does not grow). A missing, zero, negative or infinite half-life
//! means the edge type never decays.

use std::collections::HashMap;

pub(crate) const US_PER_HOUR: f64 = 3_600_000_000.0;

/// Half-lives per edge type (hours); types not listed use `default`.
#[derive(Clone, Debug, Default)]
pub struct HalfLives {
    pub by_type: HashMap<String, Option<f64>>,
    pub default: Option<f64>,
}

impl HalfLives {
    pub fn get(&self, edge_type: &str) -> Option<f64> {
        match self.by_type.get(edge_type) {
            Some(h) => *h,
            None => self.default,
        }
    }
}

/// The decay rate of a half-life: `-1 / half_life` in µs⁻¹, so decay is one
/// `exp2`; 0 for types that never decay.
pub fn rate(half_life_hours: Option<f64>) -> f64 {
    match half_life_hours {
        Some(h) if h > 0.0 && h.is_finite() => -1.0 / (h * US_PER_HOUR),
        _ => 0.0,
    }
}

/// Effective weight of an edge at `now_us` for a decay [`rate`].
#[inline]
pub fn decayed(weight: f64, reinforced_at_us: i64, now_us: i64, rate: f64) -> f64 {
    if rate == 0.0 {
        return weight;
    }
    let age = (now_us.saturating_sub(reinforced_at_us)).max(0) as f64;
    weight * (age * rate).exp2()
}

/// Effective weight of one edge with the given half-life (hours).
#[inline]
pub fn decay(weight: f64, reinforced_at_us: i64, now_us: i64, half_life_hours: Option<f64>) -> f64 {
    decayed(weight, reinforced_at_us, now_us, rate(half_life_hours))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    #[test]
    fn decay_arithmetic() {
        assert!((decay(2.0, 0, 24 * H, Some(24.0)) - 1.0).abs() < 1e-12);
        assert!((decay(2.0, 0, 48 * H, Some(24.0)) - 0.5).abs() < 1e-12);
        // reinforced in the future: no growth
        assert_eq!(decay(2.0, 10 * H, 0, Some(24.0)), 2.0);
        // zero, negative, missing or non-finite half-life: no decay
        assert_eq!(decay(2.0, 0, 1000 * H, Some(0.0)), 2.0);
        assert_eq!(decay(2.0, 0, 1000 * H, Some(-5.0)), 2.0);
        assert_eq!(decay(2.0, 0, 1000 * H, None), 2.0);
        assert_eq!(decay(2.0, 0, 1000 * H, Some(f64::INFINITY)), 2.0);
        // extreme ages do not panic
        assert_eq!(decay(1.0, i64::MIN, i64::MAX, Some(1.0)), 0.0);
    }
}
