//! Correlation statistics, computed the way scipy does so that scores match the
//! challenge's reference implementation (`scipy.stats.pearsonr` / `spearmanr`).

/// Pearson correlation coefficient.
///
/// Mean-centred two-pass form in f64: the one-pass sum-of-products formula loses most of
/// its digits when values sit far from zero (bin-scale expression ~ 10 with spread ~ 0.1).
/// Returns `None` when the coefficient is undefined: fewer than two values, unequal
/// lengths, or a constant vector (scipy returns NaN there).
pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let mean_x = x.iter().sum::<f64>() / n;
    let mean_y = y.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx, mut syy) = (0.0f64, 0.0f64, 0.0f64);
    for (&a, &b) in x.iter().zip(y) {
        let dx = a - mean_x;
        let dy = b - mean_y;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 || !sxx.is_finite() || !syy.is_finite() {
        return None;
    }
    let r = sxy / (sxx.sqrt() * syy.sqrt());
    if !r.is_finite() {
        return None;
    }
    // Rounding can push |r| a hair past 1 for perfectly (anti)correlated data; scipy
    // clips the same way.
    Some(r.clamp(-1.0, 1.0))
}

/// 1-based ranks with ties given the mean of the ranks they span
/// (`scipy.stats.rankdata(method="average")`). Ties are exact float equality.
pub fn average_ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean:
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman rank correlation: Pearson correlation of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn ranks_average_over_ties() {
        // sorted: 1.0 (rank 1), 2.0 x2 (ranks 2,3 -> 2.5), 3.0 x3 (ranks 4,5,6 -> 5)
        let r = average_ranks(&[3.0, 2.0, 1.0, 3.0, 2.0, 3.0]);
        assert_eq!(r, vec![5.0, 2.5, 1.0, 5.0, 2.5, 5.0]);
    }

    #[test]
    fn pearson_by_hand() {
        // x centred: -1.5 -0.5 0.5 1.5; y = 1 3 2 4 centred: -1.5 0.5 -0.5 1.5
        // sxy = 2.25 - 0.25 - 0.25 + 2.25 = 4; sxx = syy = 5  ->  r = 0.8
        let r = pearson(&[1.0, 2.0, 3.0, 4.0], &[1.0, 3.0, 2.0, 4.0]).unwrap();
        assert!(close(r, 0.8), "{r}");
    }

    #[test]
    fn pearson_is_shift_invariant_far_from_zero() {
        let x = [1.0, 2.0, 3.0, 4.0];
        let y: Vec<f64> = [1.0, 3.0, 2.0, 4.0].iter().map(|v| v + 1e9).collect();
        assert!(close(pearson(&x, &y).unwrap(), 0.8));
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(pearson(&[1.0], &[2.0]), None);
        assert_eq!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(pearson(&[1.0, 2.0], &[1.0]), None);
        assert_eq!(spearman(&[5.0, 5.0], &[1.0, 2.0]), None);
    }

    #[test]
    fn spearman_with_ties_by_hand() {
        // x = 1 2 2 3 -> ranks 1 2.5 2.5 4 ; y = 1 2 3 4 -> ranks 1 2 3 4
        // centred x: -1.5 0 0 1.5 ; centred y: -1.5 -0.5 0.5 1.5
        // sxy = 2.25 + 2.25 = 4.5 ; sxx = 4.5 ; syy = 5  ->  rho = 4.5 / sqrt(22.5) = 0.9486832980505138
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]).unwrap();
        assert!(close(rho, 4.5 / 22.5f64.sqrt()), "{rho}");
        assert!(close(rho, 0.9486832980505138));
    }

    #[test]
    fn monotone_nonlinear_gives_rho_one() {
        let x = [0.1, 0.5, 0.9, 2.0, 7.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| v.exp()).collect();
        assert!(close(spearman(&x, &y).unwrap(), 1.0));
        assert!(pearson(&x, &y).unwrap() < 1.0);
        let neg: Vec<f64> = x.iter().map(|v| -v * 3.0 + 1.0).collect();
        assert!(close(pearson(&x, &neg).unwrap(), -1.0));
    }
}
