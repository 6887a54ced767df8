//! The DREAM training-recipe building blocks against the spec (`training.md` §1–6, §10)
//! and the reference fixtures: soft targets, one-cycle schedule, AdamW, encoded sets,
//! the resumable batch sampler, the held-out split and the validation metrics.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use infer::input::{open, InputOptions, SeqRecord};
use infer::preprocess::reverse_complement;
use infer::Preprocessing;
use tch::{Kind, Tensor};
use train::model::store::to_vec_f32;
use train::recipe::{
    drosophila_reverse_flag, encode_regression, encode_yeast, holdout, human_reverse_flag,
    is_singleton, metrics, AdamW, BatchSampler, DataError, OneCycle, SamplerState, SoftBinTarget,
};

const SHARED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared");

// ---------------------------------------------------------------------------------------
// Soft-bin targets

#[test]
fn soft_targets_match_reference_fixture() {
    let text =
        std::fs::read_to_string(format!("{SHARED}/fixtures/prixfixe/soft_targets.json")).unwrap();
    let fixture: BTreeMap<String, Vec<f64>> = serde_json::from_str(&text).unwrap();
    assert!(fixture.len() >= 5, "fixture unexpectedly small");
    let target = SoftBinTarget::default();
    let (mut max_abs, mut max_rel) = (0f64, 0f64);
    for (key, want) in &fixture {
        let e: f64 = key.parse().unwrap();
        let got = target.probs(e);
        assert_eq!(got.len(), 18);
        assert_eq!(want.len(), 18);
        for (k, (&g, &w)) in got.iter().zip(want).enumerate() {
            // The reference casts scipy's f64 result to f32: we reproduce it bit for bit.
            assert_eq!(
                g, w as f32,
                "e={key} class {k}: not the reference's f32 value"
            );
            let g = g as f64;
            let abs = (g - w).abs();
            assert!(abs <= 1e-6, "e={key} class {k}: got {g:e}, reference {w:e}");
            if w == 0.0 {
                // scipy's Φ(b) − Φ(a) cancels to exactly 0 in the upper tail; so must we.
                assert_eq!(
                    g, 0.0,
                    "e={key} class {k}: reference is exactly 0, got {g:e}"
                );
            } else {
                let rel = abs / w.abs();
                assert!(
                    rel <= 1e-6,
                    "e={key} class {k}: got {g:e}, reference {w:e} (rel {rel:e})"
                );
                max_rel = max_rel.max(rel);
            }
            max_abs = max_abs.max(abs);
        }
    }
    eprintln!("soft targets: max abs diff {max_abs:e}, max rel diff (nonzero entries) {max_rel:e}");
}

#[test]
fn soft_targets_match_spec_table() {
    let t = SoftBinTarget::default();
    let table: &[(f64, &[(usize, f64)])] = &[
        (
            0.0,
            &[
                (0, 0.8413448),
                (1, 0.1573054),
                (2, 0.001349611),
                (3, 2.866503e-07),
            ],
        ),
        (
            5.0,
            &[
                (3, 0.001349611),
                (4, 0.1573054),
                (5, 0.6826895),
                (6, 0.1573054),
                (7, 0.001349611),
            ],
        ),
        (
            11.5,
            &[
                (9, 3.167025e-05),
                (10, 0.02271846),
                (11, 0.4772499),
                (12, 0.4772499),
                (13, 0.02271846),
            ],
        ),
        (
            12.3,
            &[
                (10, 1.590979e-04),
                (11, 0.05464018),
                (12, 0.6006225),
                (13, 0.3363807),
                (14, 0.008192124),
            ],
        ),
        (17.0, &[(15, 0.001349611), (16, 0.1573054), (17, 0.8413448)]),
    ];
    for &(e, entries) in table {
        let p = t.probs(e);
        let total: f64 = p.iter().map(|&v| v as f64).sum();
        assert!(
            (total - 1.0).abs() < 1e-6,
            "e={e}: probabilities sum to {total}"
        );
        for &(k, want) in entries {
            let rel = (p[k] as f64 - want).abs() / want;
            // The spec prints 7 significant digits.
            assert!(rel < 1e-6, "e={e} class {k}: got {:e}, spec {want:e}", p[k]);
        }
    }
    // Far lower-tail classes keep tiny nonzero values (down to f32 denormals).
    // e = 17: class 12 = Φ(−9) − Φ(−11) ≈ 1.1285884e-19; class 10 = Φ(−13) − Φ(−15) ≈
    // 6.1e-39 is an f32 subnormal; class 5 (Φ(−23) − Φ(−25)) underflows to 0.
    let p = t.probs(17.0);
    assert!(
        ((p[12] as f64) / 1.1285884e-19 - 1.0).abs() < 1e-6,
        "class 12 at e=17: {:e}",
        p[12]
    );
    assert!(
        p[10] > 0.0 && !p[10].is_normal(),
        "class 10 at e=17: {:e}",
        p[10]
    );
    assert_eq!(p[5], 0.0);
}

#[test]
fn singleton_is_exact_integer() {
    assert!(is_singleton(12.0));
    assert!(is_singleton(0.0));
    assert!(!is_singleton(12.5));
    assert!(!is_singleton(15.1823836007871));
    assert!(!is_singleton(f64::NAN));
    assert!(!is_singleton(f64::INFINITY));
}

// ---------------------------------------------------------------------------------------
// One-cycle schedule

fn close_to_printed(got: f64, printed: f64, half_ulp: f64, what: &str) {
    assert!(
        (got - printed).abs() <= half_ulp,
        "{what}: got {got:e}, spec prints {printed:e}"
    );
}

#[test]
fn one_cycle_matches_spec_table() {
    // (step, lr max 0.005, lr max 0.001, β1), T = 80 × 1000 (spec §4).
    let rows: &[(usize, f64, f64, f64, f64, f64)] = &[
        // step, lr5, lr1, β1, half unit of the printed lr digit (max 0.005), same for β1
        (0, 2.0e-4, 4.0e-5, 0.95, 0.5e-5, 0.5e-2),
        (12000, 2.60016e-3, 5.20031e-4, 0.899997, 0.5e-8, 0.5e-6),
        (23999, 5.0e-3, 1.0e-3, 0.85, 0.5e-4, 0.5e-2),
        (40000, 4.05862e-3, 8.11724e-4, 0.868828, 0.5e-8, 0.5e-6),
        (60000, 1.41518e-3, 2.83036e-4, 0.921697, 0.5e-8, 0.5e-6),
        (79999, 2.0e-8, 4.0e-9, 0.95, 0.5e-9, 0.5e-2),
    ];
    let fast = OneCycle::dream(0.005, 80_000);
    let slow = OneCycle::dream(0.001, 80_000);
    for &(n, lr5, lr1, b1, tol_lr, tol_b) in rows {
        let (a, beta_a) = fast.at(n);
        let (b, beta_b) = slow.at(n);
        close_to_printed(a, lr5, tol_lr, &format!("lr(max 0.005) at {n}"));
        // The max-0.001 column is the same curve scaled by 1/5.
        close_to_printed(b, lr1, tol_lr / 5.0, &format!("lr(max 0.001) at {n}"));
        close_to_printed(beta_a, b1, tol_b, &format!("beta1 at {n}"));
        assert_eq!(beta_a, beta_b);
    }
    // The endpoints are exact.
    assert!((fast.at(0).0 - 0.005 / 25.0).abs() < 1e-18);
    assert_eq!(fast.at(23999), (0.005, 0.85));
    assert!((fast.at(79999).0 - 0.005 / 250_000.0).abs() < 1e-20);
}

/// The spec's formula written out independently: E1 = 0.3·T − 1, E2 = T − 1.
fn spec_formula(max_lr: f64, t: usize, n: usize) -> (f64, f64) {
    let cosanneal =
        |a: f64, b: f64, f: f64| b + (a - b) * (1.0 + (std::f64::consts::PI * f).cos()) / 2.0;
    let initial = max_lr / 25.0;
    let fin = initial / 1e4;
    let e1 = 0.3 * t as f64 - 1.0;
    let e2 = t as f64 - 1.0;
    let n = n as f64;
    if n <= e1 {
        let f = n / e1;
        (cosanneal(initial, max_lr, f), cosanneal(0.95, 0.85, f))
    } else {
        let f = (n - e1) / (e2 - e1);
        (cosanneal(max_lr, fin, f), cosanneal(0.85, 0.95, f))
    }
}

#[test]
fn one_cycle_small_run_steps_0_1_mid_last() {
    // T = 10: E1 = 2, E2 = 9. Values computed with PyTorch's arithmetic (Python floats).
    let s = OneCycle::dream(0.005, 10);
    let expected: &[(usize, f64, f64)] = &[
        (0, 0.00019999999999999966, 0.95),
        (1, 0.0026, 0.8999999999999999),
        (5, 0.0030563101096814462, 0.8888739533021842),
        (9, 2e-08, 0.95),
    ];
    for &(n, lr, beta) in expected {
        let (got_lr, got_beta) = s.at(n);
        let (f_lr, f_beta) = spec_formula(0.005, 10, n);
        assert!(
            (got_lr - lr).abs() <= 1e-15 * lr.max(1e-3),
            "lr at {n}: {got_lr:e} vs {lr:e}"
        );
        assert!(
            (got_beta - beta).abs() <= 1e-15,
            "beta1 at {n}: {got_beta} vs {beta}"
        );
        assert!(
            (got_lr - f_lr).abs() <= 1e-15 * f_lr.max(1e-3),
            "lr at {n} vs spec formula"
        );
        assert!(
            (got_beta - f_beta).abs() <= 1e-15,
            "beta1 at {n} vs spec formula"
        );
    }
    // Every step of a longer run follows the formula; past the end it stays at the end.
    let s = OneCycle::dream(0.001, 1234);
    for n in 0..1234 {
        let (lr, beta) = s.at(n);
        let (f_lr, f_beta) = spec_formula(0.001, 1234, n);
        assert!(
            (lr - f_lr).abs() <= 1e-15 && (beta - f_beta).abs() <= 1e-14,
            "step {n}"
        );
    }
    assert_eq!(s.at(5000), s.at(1233));
    // The peak is reached at step ⌊E1⌋ or ⌈E1⌉ and the lr never exceeds max_lr.
    let peak = (0..1234).map(|n| s.at(n).0).fold(0.0, f64::max);
    assert!(peak <= 0.001 && peak > 0.001 * (1.0 - 1e-5), "peak {peak}");
}

// ---------------------------------------------------------------------------------------
// AdamW

/// PyTorch AdamW written out in f64 for one scalar parameter.
struct RefAdamW {
    p: f64,
    m: f64,
    v: f64,
    t: i32,
}

impl RefAdamW {
    fn step(&mut self, g: f64, lr: f64, beta1: f64, wd: f64) {
        let (beta2, eps) = (0.999, 1e-8);
        self.t += 1;
        self.p *= 1.0 - lr * wd;
        self.m = beta1 * self.m + (1.0 - beta1) * g;
        self.v = beta2 * self.v + (1.0 - beta2) * g * g;
        let m_hat = self.m / (1.0 - beta1.powi(self.t));
        let v_hat = self.v / (1.0 - beta2.powi(self.t));
        self.p -= lr * m_hat / (v_hat.sqrt() + eps);
    }
}

/// loss = Σ c_i·p_i + ½ p_i²  ⇒  ∂loss/∂p_i = c_i + p_i.
fn backward(p: &Tensor, c: &Tensor) {
    let loss = (p * c).sum(p.kind()) + (p * p).sum(p.kind()) * 0.5;
    loss.backward();
}

const SCHEDULE: [(f64, f64); 3] = [(1e-2, 0.95), (3e-2, 0.9), (5e-3, 0.86)];

fn check_adamw(kind: Kind, tol: f64) {
    let init = [0.5f64, -1.25, 2.0, 0.0, -0.03];
    let coef = [1.0f64, -2.0, 0.5, 3.0, 0.01];
    let p = Tensor::from_slice(&init)
        .to_kind(kind)
        .set_requires_grad(true);
    // A parameter outside the loss: its grad stays undefined, so it must not move
    // (not even by weight decay).
    let idle = Tensor::from_slice(&[1.0f64, 2.0])
        .to_kind(kind)
        .set_requires_grad(true);
    let c = Tensor::from_slice(&coef).to_kind(kind);
    let wd = 0.01;
    let mut opt = AdamW::new(vec![p.shallow_clone(), idle.shallow_clone()], wd);
    let mut reference: Vec<RefAdamW> = init
        .iter()
        .map(|&p| RefAdamW {
            p,
            m: 0.0,
            v: 0.0,
            t: 0,
        })
        .collect();
    for (step, &(lr, beta1)) in SCHEDULE.iter().enumerate() {
        backward(&p, &c);
        opt.step(lr, beta1);
        opt.zero_grad();
        for (r, &ci) in reference.iter_mut().zip(&coef) {
            let g = ci + r.p;
            r.step(g, lr, beta1, wd);
        }
        let got: Vec<f64> = Vec::<f64>::try_from(&p.to_kind(Kind::Double)).unwrap();
        for (i, (g, r)) in got.iter().zip(&reference).enumerate() {
            assert!(
                (g - r.p).abs() <= tol,
                "{kind:?} step {} param {i}: {g} vs reference {}",
                step + 1,
                r.p
            );
        }
        assert_eq!(opt.steps_taken(), step as i64 + 1);
    }
    let idle_now: Vec<f64> = Vec::<f64>::try_from(&idle.to_kind(Kind::Double)).unwrap();
    assert_eq!(idle_now, vec![1.0, 2.0]);
    // zero_grad really zeroed the gradient.
    let g: Vec<f64> = Vec::<f64>::try_from(&p.grad().to_kind(Kind::Double)).unwrap();
    assert!(g.iter().all(|&v| v == 0.0));
    // The moments match the reference too.
    let state = opt.state();
    let m: Vec<f64> = Vec::<f64>::try_from(&state[0].1.to_kind(Kind::Double)).unwrap();
    for (i, (g, r)) in m.iter().zip(&reference).enumerate() {
        assert!((g - r.m).abs() <= tol, "exp_avg {i}: {g} vs {}", r.m);
    }
}

#[test]
fn adamw_matches_hand_computed_reference_f64() {
    check_adamw(Kind::Double, 1e-12);
}

#[test]
fn adamw_matches_hand_computed_reference_f32() {
    check_adamw(Kind::Float, 2e-6);
}

#[test]
fn adamw_state_round_trip_resumes_identically() {
    let c = Tensor::from_slice(&[1.0f32, -2.0, 0.5]);
    let make = || Tensor::from_slice(&[0.5f32, -1.0, 2.0]).set_requires_grad(true);
    let (a, b) = (make(), make());
    let mut opt_a = AdamW::new(vec![a.shallow_clone()], 0.01);
    for &(lr, beta1) in &SCHEDULE[..2] {
        backward(&a, &c);
        opt_a.step(lr, beta1);
        opt_a.zero_grad();
    }
    // Resume: copy the weights, load the optimiser state into a fresh optimiser.
    tch::no_grad(|| b.shallow_clone().copy_(&a));
    let state = opt_a.state();
    let names: Vec<&str> = state.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["exp_avg.0", "exp_avg_sq.0", "step"]);
    assert_eq!(state[2].1.size(), Vec::<i64>::new());
    assert_eq!(state[2].1.kind(), Kind::Int64);
    // Detached copies, as a checkpoint file would hold.
    let saved: Vec<(String, Tensor)> = state.iter().map(|(n, t)| (n.clone(), t.copy())).collect();
    let mut opt_b = AdamW::new(vec![b.shallow_clone()], 0.01);
    opt_b.load_state(&saved).unwrap();
    assert_eq!(opt_b.steps_taken(), 2);
    let (lr, beta1) = SCHEDULE[2];
    for (p, opt) in [(&a, &mut opt_a), (&b, &mut opt_b)] {
        backward(p, &c);
        opt.step(lr, beta1);
    }
    assert_eq!(to_vec_f32(&a), to_vec_f32(&b));

    // Bad states are refused with a message and change nothing.
    let mut fresh = AdamW::new(vec![make()], 0.01);
    let err = fresh.load_state(&saved[..2]).unwrap_err();
    assert!(err.contains("step"), "{err}");
    let mut wrong_shape = saved
        .iter()
        .map(|(n, t)| (n.clone(), t.shallow_clone()))
        .collect::<Vec<_>>();
    wrong_shape[1].1 = Tensor::zeros([4], (Kind::Float, tch::Device::Cpu));
    let err = fresh.load_state(&wrong_shape).unwrap_err();
    assert!(
        err.contains("exp_avg_sq.0") && err.contains("shape"),
        "{err}"
    );
    assert_eq!(fresh.steps_taken(), 0);
}

// ---------------------------------------------------------------------------------------
// Encoded sets

const SPEC_RAW: &str = "TGCATTTTTTTCACATCCTTCAACCAAAATATAATATTCAATATCTTGTAGGGACGATCAATATAAGTCGCCCGGACCATATAAGGCTAAGGTGTGGGGTTACGGCTGTT";
const SPEC_PADDED: &str = "AGTGCTAGCAGGAATGATGCAAAAGGTTCCCGATTCGAACTGCATTTTTTTCACATCCTTCAACCAAAATATAATATTCAATATCTTGTAGGGACGATCAATATAAGTCGCCCGGACCATATAAGGCTAAGGTGTGGGGTTACGGCTGTT";
const SPEC_RC: &str = "AACAGCCGTAACCCCACACCTTAGCCTTATATGGTCCGGGCGACTTATATTGATCGTCCCTACAAGATATTGAATATTATATTTTGGTTGAAGGATGTGAAAAAAATGCAGTTCGAATCGGGAACCTTTTGCATCATTCCTGCTAGCACT";

fn rec(id: &str, seq: &str, labels: &[f64], line: u64) -> SeqRecord {
    SeqRecord {
        id: id.to_string(),
        seq: seq.as_bytes().to_vec(),
        labels: labels.to_vec(),
        line,
    }
}

fn row(t: &Tensor, i: i64) -> Vec<f32> {
    to_vec_f32(&t.get(i))
}

fn encoded(pre: &Preprocessing, padded: &[u8], reverse: bool, singleton: bool) -> Vec<f32> {
    let mut out = vec![0f32; pre.input_size()];
    pre.encode(padded, reverse, singleton, &mut out);
    out
}

#[test]
fn yeast_set_forward_rows_then_rc_rows() {
    let pre = Preprocessing::dream_yeast();
    let targets = SoftBinTarget::default();
    let records = vec![
        rec("line:1", SPEC_RAW, &[12.0], 1),
        rec(
            "line:2",
            "TGCATTTTTTTCACATCACGTACGTNNACGTGGTTACGGCTGTT",
            &[3.5],
            2,
        ),
        rec(
            "line:3",
            &SPEC_RAW.to_lowercase(),
            &[15.1823836007871, 7.0],
            3,
        ),
    ];
    let set = encode_yeast(&records, &pre, &targets, true).unwrap();
    assert_eq!(set.len(), 6);
    assert_eq!(set.x.size(), [6, 6, 150]);
    assert_eq!(set.x.kind(), Kind::Float);
    assert_eq!(set.y.size(), [6]);
    let probs = set.y_probs.as_ref().expect("yeast sets carry soft targets");
    assert_eq!(probs.size(), [6, 18]);

    // Row 0: the encoding of the first record's padded sequence, rev 0, singleton 1.
    assert_eq!(
        pre.pad(SPEC_RAW.as_bytes()).unwrap(),
        SPEC_PADDED.as_bytes()
    );
    assert_eq!(
        row(&set.x, 0),
        encoded(&pre, SPEC_PADDED.as_bytes(), false, true)
    );
    // Rows 3..6 are the RC copies, in the same order, after ALL forward rows.
    assert_eq!(
        reverse_complement(SPEC_PADDED.as_bytes()),
        SPEC_RC.as_bytes()
    );
    assert_eq!(
        row(&set.x, 3),
        encoded(&pre, SPEC_RC.as_bytes(), true, true)
    );
    let padded2 = pre.pad(records[1].seq.as_slice()).unwrap();
    assert_eq!(row(&set.x, 1), encoded(&pre, &padded2, false, false));
    assert_eq!(
        row(&set.x, 4),
        encoded(&pre, &reverse_complement(&padded2), true, false)
    );
    // Case does not matter.
    assert_eq!(
        row(&set.x, 2),
        row(&set.x, 0)
            .iter()
            .enumerate()
            .map(|(i, &v)| if i >= 5 * 150 { 0.0 } else { v })
            .collect::<Vec<_>>()
    );

    // Channel 4 = rev, channel 5 = singleton (integer label only; copied to the RC row).
    let channel = |r: i64, c: i64| to_vec_f32(&set.x.get(r).get(c));
    let expect_rev = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0];
    let expect_single = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
    for r in 0..6 {
        assert!(
            channel(r, 4).iter().all(|&v| v == expect_rev[r as usize]),
            "rev channel of row {r}"
        );
        assert!(
            channel(r, 5)
                .iter()
                .all(|&v| v == expect_single[r as usize]),
            "singleton channel of row {r}"
        );
    }
    // Labels: labels[0], duplicated for the RC rows, with their soft targets.
    let y = to_vec_f32(&set.y);
    assert_eq!(y, [12.0, 3.5, 15.182384, 12.0, 3.5, 15.182384]);
    for (r, &e) in [12.0, 3.5, 15.1823836007871, 12.0, 3.5, 15.1823836007871]
        .iter()
        .enumerate()
    {
        assert_eq!(
            row(probs, r as i64),
            targets.probs(e),
            "soft targets of row {r}"
        );
    }

    // Without RC copies: only the forward rows.
    let fwd = encode_yeast(&records, &pre, &targets, false).unwrap();
    assert_eq!(fwd.x.size(), [3, 6, 150]);
    assert_eq!(to_vec_f32(&fwd.x), to_vec_f32(&set.x.narrow(0, 0, 3)));

    // A preprocessing without a singleton channel never sets one.
    let mut no_single = pre.clone();
    no_single
        .extra_channels
        .retain(|c| *c != infer::preprocess::ExtraChannel::Singleton);
    let s5 = encode_yeast(&records[..1], &no_single, &targets, true).unwrap();
    assert_eq!(s5.x.size(), [2, 5, 150]);
}

#[test]
fn yeast_set_rejects_bad_records_naming_them() {
    let pre = Preprocessing::dream_yeast();
    let t = SoftBinTarget::default();
    let bad_seq = [
        rec("line:1", SPEC_RAW, &[1.0], 1),
        rec("seq_7", "ACGTXACGT", &[1.0], 9),
    ];
    let err = encode_yeast(&bad_seq, &pre, &t, true).unwrap_err();
    assert!(matches!(err, DataError::Sequence { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("seq_7") && msg.contains("line 9") && msg.contains("'X'"),
        "{msg}"
    );

    let no_label = [rec("r", SPEC_RAW, &[], 4)];
    let msg = encode_yeast(&no_label, &pre, &t, false)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("line 4") && msg.contains("no label"), "{msg}");

    let nan = [rec("r", SPEC_RAW, &[f64::NAN], 5)];
    assert!(matches!(
        encode_yeast(&nan, &pre, &t, false),
        Err(DataError::NonFiniteLabel { line: 5, .. })
    ));
    assert!(matches!(
        encode_yeast(&[], &pre, &t, false),
        Err(DataError::Empty)
    ));
}

#[test]
fn regression_set_reads_orientation_and_all_labels() {
    let pre = Preprocessing::benchmark(6);
    let records = vec![
        rec("chrX_1_7_+_peak", "ACGTNA", &[1.5, -0.25], 2),
        rec("chrX_5_11_-_negative", "ttttgg", &[0.0, 2.0], 3),
    ];
    let set = encode_regression(&records, &pre, |r| drosophila_reverse_flag(&r.id)).unwrap();
    assert_eq!(set.x.size(), [2, 5, 6]);
    assert_eq!(set.y.size(), [2, 2]);
    assert!(set.y_probs.is_none());
    assert_eq!(to_vec_f32(&set.y), [1.5, -0.25, 0.0, 2.0]);
    assert_eq!(row(&set.x, 0), encoded(&pre, b"ACGTNA", false, false));
    assert_eq!(row(&set.x, 1), encoded(&pre, b"TTTTGG", true, false));
    // Channel order A, G, C, T: the first base of row 0 is A.
    assert_eq!(row(&set.x, 0)[0], 1.0);

    let mismatch = vec![records[0].clone(), rec("x", "ACGTAC", &[1.0], 7)];
    let msg = encode_regression(&mismatch, &pre, |_| false)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("line 7") && msg.contains("expected 2"),
        "{msg}"
    );
    let short = vec![rec("seq9_Reversed:", "ACG", &[1.0], 11)];
    let msg = encode_regression(&short, &pre, |r| human_reverse_flag(&r.id))
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("seq9_Reversed:") && msg.contains("line 11") && msg.contains("exactly 6"),
        "{msg}"
    );
}

#[test]
fn orientation_flags() {
    assert!(human_reverse_flag("seq22915_Reversed:"));
    assert!(!human_reverse_flag("ENSG00000126251_F"));
    assert!(drosophila_reverse_flag("chrX_20638201_20638449_-_negative"));
    assert!(!drosophila_reverse_flag(
        "chrX_15200212_15200460_+_peak_849bp_region"
    ));
}

// ---------------------------------------------------------------------------------------
// Batch sampler

#[test]
fn sampler_passes_are_permutations_with_short_last_batch() {
    let mut s = BatchSampler::new(103, 10, 42);
    let mut seen = Vec::new();
    for b in 0..11 {
        let batch = s.next_batch();
        assert_eq!(batch.len(), if b == 10 { 3 } else { 10 }, "batch {b}");
        seen.extend(batch);
    }
    let first_pass = seen.clone();
    seen.sort_unstable();
    assert_eq!(seen, (0..103).collect::<Vec<i64>>());
    // The next pass starts a new permutation with a full batch.
    let mut second = Vec::new();
    for _ in 0..11 {
        second.extend(s.next_batch());
    }
    assert_eq!(second.len(), 103);
    assert_ne!(second, first_pass);
    assert_eq!(s.state().pass, 1);
    assert_eq!(s.batches_per_pass(), 11);
    // Same seed, same batches; other seed, other batches.
    let mut again = BatchSampler::new(103, 10, 42);
    assert_eq!(again.next_batch(), first_pass[..10]);
    let mut other = BatchSampler::new(103, 10, 43);
    assert_ne!(other.next_batch(), first_pass[..10]);
    assert!(BatchSampler::new(0, 10, 1).next_batch().is_empty());
}

#[test]
fn sampler_resume_continues_the_same_sequence() {
    let (n, batch, seed) = (97, 8, 2147483647);
    let mut straight = BatchSampler::new(n, batch, seed);
    let all: Vec<Vec<i64>> = (0..25).map(|_| straight.next_batch()).collect();

    let mut first = BatchSampler::new(n, batch, seed);
    let mut resumed: Vec<Vec<i64>> = (0..10).map(|_| first.next_batch()).collect();
    let json = serde_json::to_string(&first.state()).unwrap();
    let state: SamplerState = serde_json::from_str(&json).unwrap();
    assert_eq!(state.rows, n);
    let mut second = BatchSampler::from_state(n, batch, state);
    resumed.extend((0..15).map(|_| second.next_batch()));
    assert_eq!(resumed, all);
    // 25 batches of 8 over 97 rows cross two pass boundaries (13 batches per pass).
    assert_eq!(second.state().pass, 1);
    assert_eq!(straight.state(), second.state());
}

// ---------------------------------------------------------------------------------------
// Held-out split

fn demo_records() -> Vec<SeqRecord> {
    let path = format!("{SHARED}/data/dream/demo_train.txt");
    open(Path::new(&path), &InputOptions::default())
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn holdout_is_stable_disjoint_and_sized() {
    let records = demo_records();
    assert_eq!(records.len(), 6370);
    let (train, valid) = holdout(records.clone(), 0.1, 7);
    assert_eq!(train.len() + valid.len(), records.len());
    let frac = valid.len() as f64 / records.len() as f64;
    assert!((frac - 0.1).abs() <= 0.02, "held-out fraction {frac}");

    // Stable across calls.
    let (train2, valid2) = holdout(records.clone(), 0.1, 7);
    assert_eq!(train, train2);
    assert_eq!(valid, valid2);

    // Independent of input order: reverse and interleave.
    let mut shuffled = records.clone();
    shuffled.reverse();
    let n = shuffled.len();
    shuffled.rotate_left(n / 3);
    let (_, valid3) = holdout(shuffled, 0.1, 7);
    let lines = |v: &[SeqRecord]| v.iter().map(|r| r.line).collect::<HashSet<u64>>();
    assert_eq!(lines(&valid), lines(&valid3));

    // Disjoint by sequence, not just by record.
    let valid_seqs: HashSet<&[u8]> = valid.iter().map(|r| r.seq.as_slice()).collect();
    assert!(train.iter().all(|r| !valid_seqs.contains(r.seq.as_slice())));

    // Another seed gives another split of similar size.
    let (_, valid4) = holdout(records.clone(), 0.1, 8);
    assert_ne!(lines(&valid), lines(&valid4));
    let frac4 = valid4.len() as f64 / records.len() as f64;
    assert!((frac4 - 0.1).abs() <= 0.02, "held-out fraction {frac4}");

    // Other fractions.
    let (_, v30) = holdout(records.clone(), 0.3, 7);
    let f30 = v30.len() as f64 / records.len() as f64;
    assert!((f30 - 0.3).abs() <= 0.02, "held-out fraction {f30}");
    assert!(
        lines(&valid).is_subset(&lines(&v30)),
        "a larger fraction extends the smaller one"
    );
    assert!(holdout(records.clone(), 0.0, 7).1.is_empty());
    assert!(holdout(records, 1.0, 7).0.is_empty());
}

#[test]
fn holdout_keeps_duplicates_together() {
    let seq = "ACGTACGTACGTACGTACGTTTT";
    // Many copies of one sequence (case differs) among distinct ones.
    let mut records = Vec::new();
    for i in 0..200u64 {
        records.push(rec(
            &format!("d{i}"),
            if i % 2 == 0 {
                seq
            } else {
                "acgtacgtacgtacgtacgtttt"
            },
            &[1.0],
            i,
        ));
        records.push(rec(
            &format!("u{i}"),
            &format!("{seq}{}", "A".repeat(i as usize + 1)),
            &[1.0],
            1000 + i,
        ));
    }
    for seed in 0..20 {
        let (train, valid) = holdout(records.clone(), 0.5, seed);
        let dup_in_train = train.iter().filter(|r| r.id.starts_with('d')).count();
        let dup_in_valid = valid.iter().filter(|r| r.id.starts_with('d')).count();
        assert!(
            dup_in_train == 0 || dup_in_valid == 0,
            "seed {seed}: duplicates split {dup_in_train}/{dup_in_valid}"
        );
        assert_eq!(dup_in_train + dup_in_valid, 200);
    }
}

// ---------------------------------------------------------------------------------------
// Validation metrics

#[test]
fn validation_metrics() {
    let m = metrics(&[1.0, 2.0, 3.0, 4.0], &[1.0, 2.0, 3.0, 5.0]);
    assert!((m.mse - 0.25).abs() < 1e-12);
    // Σdxdy = 6.5, Σdx² = 5, Σdy² = 8.75.
    assert!(
        (m.pearson - 6.5 / (5.0f64 * 8.75).sqrt()).abs() < 1e-12,
        "{}",
        m.pearson
    );
    assert!((m.spearman - 1.0).abs() < 1e-12);
    let anti = metrics(&[3.0, 2.0, 1.0], &[1.0, 2.0, 10.0]);
    assert!((anti.spearman + 1.0).abs() < 1e-12);
    let json = serde_json::to_value(m).unwrap();
    assert!(
        json.get("mse").is_some()
            && json.get("pearson").is_some()
            && json.get("spearman").is_some()
    );
    let undefined = metrics(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]);
    assert!(undefined.pearson.is_nan() && undefined.spearman.is_nan());
    assert!(metrics(&[1.0], &[1.0, 2.0]).mse.is_nan());
}
