//! The teams' recipes through `train fit --recipe` on a slice of the demo data: each run
//! records its recipe in run.json, trains with the team's loss and schedule (seen in the
//! logged learning rate), applies the target transform (DeepGXP's standardised targets,
//! scale from the training labels), Camformers' recipe leaves out the records its
//! reader drops, and the DREAM recipe stays selectable for a team model. The recipes' arithmetic is unit-tested in `recipe::plan`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn demo_slice(dir: &Path, n: usize) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/dream/demo_train.txt");
    let text = std::fs::read_to_string(src).unwrap();
    let out = dir.join("slice.txt");
    std::fs::write(&out, text.lines().take(n).collect::<Vec<_>>().join("\n")).unwrap();
    out
}

fn fit(data: &Path, out: &Path, arch: &str, recipe: Option<&str>, epochs: usize) -> (serde_json::Value, Vec<serde_json::Value>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_train"));
    c.args(["fit", "--arch", arch, "--device", "cpu", "--threads", "2", "--seed", "5", "--batch-size", "4"])
        .args(["--valid-batch-size", "64", "--valid-fraction", "0.25", "--batches-per-epoch", "2"])
        .args(["--epochs", &epochs.to_string()])
        .arg("--train")
        .arg(data)
        .arg("--out")
        .arg(out);
    if let Some(r) = recipe {
        c.args(["--recipe", r]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let run: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
    let log = std::fs::read_to_string(out.join("log.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (run, log, String::from_utf8_lossy(&o.stderr).into_owned())
}

fn lr_last(log: &[serde_json::Value]) -> Vec<f64> {
    log.iter().map(|e| e["lr_last"].as_f64().unwrap()).collect()
}

#[test]
fn deepgxp_trains_with_huber_on_both_strands_cosine_and_standardised_targets() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 40);
    let (run, log, _) = fit(&data, &tmp.path().join("run"), "deepgxp", None, 2);
    let recipe = &run["config"]["recipe"];
    assert_eq!(recipe["name"], "deepgxp");
    assert_eq!(recipe["loss"]["kind"], "huber");
    assert_eq!(recipe["strand_pairs"], true);
    // The scale is the population sd of the 30 training labels (40 rows, 25 % held out).
    let scale = recipe["target"]["scale"].as_f64().unwrap();
    assert!(scale > 0.1 && scale < 10.0, "{scale}");
    // Cosine over 4 steps from 1.5e-3: the last step of epoch 1 is step 1, of epoch 2 step 3.
    let want = |s: f64| 1.5e-3 * (1.0 + (std::f64::consts::PI * s / 4.0).cos()) / 2.0;
    let got = lr_last(&log);
    assert!((got[0] - want(1.0)).abs() < 1e-12 && (got[1] - want(3.0)).abs() < 1e-12, "{got:?}");
    // The last epoch is kept, whatever its validation score.
    assert_eq!(log[1]["best"], true);
}

#[test]
fn wztr_and_camformer_use_reduce_on_plateau_and_their_losses() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 24);
    // Two records Camformers' reader drops: 90 nt, and 110 nt with four N.
    let mut text = std::fs::read_to_string(&data).unwrap();
    text.push_str(&format!("\n{}\t5.0\n{}NNNN\t6.0\n", "ACGT".repeat(22) + "AC", "ACGT".repeat(26) + "AC"));
    std::fs::write(&data, text).unwrap();
    for (arch, loss) in [("wztr", "mse"), ("camformer", "l1")] {
        let (run, log, stderr) = fit(&data, &tmp.path().join(arch), arch, None, 2);
        let left_out: usize = stderr
            .lines()
            .filter_map(|l| l.strip_prefix("train: left out "))
            .map(|l| l.split(' ').next().unwrap().parse::<usize>().unwrap())
            .sum();
        assert_eq!(left_out, if arch == "camformer" { 2 } else { 0 }, "{arch}: {stderr}");
        let recipe = &run["config"]["recipe"];
        assert_eq!(recipe["loss"]["kind"], loss, "{arch}");
        assert_eq!(recipe["schedule"]["kind"], "plateau", "{arch}");
        assert!(recipe["early_stopping"].is_object(), "{arch}");
        // Two epochs cannot exhaust a patience of 1 (wztr) or 10: the lr stays at the peak.
        assert_eq!(lr_last(&log), [1e-3, 1e-3], "{arch}");
        assert_eq!(run["config"]["weight_decay"], if arch == "wztr" { 0.0 } else { 1e-3 });
    }
}

#[test]
fn the_dream_recipe_is_selectable_for_a_team_model_and_unknown_recipes_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo_slice(tmp.path(), 24);
    let (run, log, _) = fit(&data, &tmp.path().join("w"), "wztr", Some("dream"), 1);
    assert_eq!(run["config"]["recipe"]["name"], "dream");
    assert_eq!(run["config"]["max_lr"], 0.005);
    // One-cycle's last step ends at max_lr / 25 / 1e4.
    assert!((lr_last(&log)[0] - 0.005 / 25.0 / 1e4).abs() < 1e-12);
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(["fit", "--arch", "wztr", "--device", "cpu", "--recipe", "nope", "--train"])
        .arg(&data)
        .arg("--out")
        .arg(tmp.path().join("x"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown recipe 'nope'"));
    // DeepGXP's two-strand flip needs a bare one-hot: refused on the DREAM input.
    let o = Command::new(env!("CARGO_BIN_EXE_train"))
        .args(["fit", "--arch", "dream-cnn", "--device", "cpu", "--recipe", "deepgxp", "--train"])
        .arg(&data)
        .arg("--out")
        .arg(tmp.path().join("y"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", String::from_utf8_lossy(&o.stderr));
}
