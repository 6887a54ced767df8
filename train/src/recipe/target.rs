//! The 18-class soft classification target of the Autosome recipe (spec `training.md` §2)
//! and the singleton flag (§1.3).

/// Expression `e` is read as a Normal(e + shift, scale) over the bins
/// `(−∞, 1), [1, 2), …, [n_bins − 1, ∞)`; the target is each bin's probability mass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SoftBinTarget {
    pub n_bins: usize,
    pub shift: f64,
    pub scale: f64,
}

impl Default for SoftBinTarget {
    /// The reference dataset's settings: 18 bins, shift 0.5, scale 0.5.
    fn default() -> Self {
        SoftBinTarget {
            n_bins: 18,
            shift: 0.5,
            scale: 0.5,
        }
    }
}

impl SoftBinTarget {
    /// Bin probabilities of one expression value, computed in f64 and cast to f32.
    ///
    /// Each entry is `Φ(upper) − Φ(lower)` as two separate CDF values, exactly as the
    /// reference does with scipy: in the upper tail both are 1 − tiny and cancel to an
    /// exact 0, while the lower tail keeps its tiny values (down to f32 denormals). An
    /// "accurate" survival-function difference would not match the trained targets.
    pub fn probs(&self, expression: f64) -> Vec<f32> {
        let mean = expression + self.shift;
        // Boundary k of the bins: −∞ for k = 0, +∞ for k = n_bins, else k itself.
        let cdf_at = |k: usize| -> f64 {
            if k == 0 {
                0.0
            } else if k >= self.n_bins {
                1.0
            } else {
                normal_cdf((k as f64 - mean) / self.scale)
            }
        };
        let mut lower = cdf_at(0);
        (1..=self.n_bins)
            .map(|k| {
                let upper = cdf_at(k);
                let p = upper - lower;
                lower = upper;
                p as f32
            })
            .collect()
    }
}

/// Standard normal CDF, computed as Cephes/scipy `ndtr` does: `erf` near zero, `erfc` of
/// |x| (reflected for positive x) elsewhere, so the lower tail keeps full relative precision.
pub(crate) fn normal_cdf(z: f64) -> f64 {
    let x = z * std::f64::consts::FRAC_1_SQRT_2;
    let ax = x.abs();
    if ax < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        let tail = 0.5 * libm::erfc(ax);
        if x > 0.0 {
            1.0 - tail
        } else {
            tail
        }
    }
}

/// The reference's "integer" singleton rule (`float.is_integer()`, spec §1.3): an exact
/// integer expression means the sequence was most likely observed once. Infinities and
/// NaN are not integers.
pub fn is_singleton(e: f64) -> bool {
    e.is_finite() && e.fract() == 0.0
}
