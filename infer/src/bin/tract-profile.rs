//! Per-operator profile of a model under tract, as `infer` loads it: where a forward
//! pass spends its time. The same numbers `tract dump --profile` gives, through the API
//! (the tract CLI takes a long release build of its own). A binary, not an example: an
//! example would build tract again with the dev-dependencies' features.
//!
//! ```sh
//! cargo run --release -p infer --bin tract-profile -- weights/dream-cnn/0.1.0/model.onnx [rows] [threads] [runs]
//! ```
//!
//! `rows` network rows per pass (512 = `infer score`'s default batch of 256 sequences,
//! reverse-complement averaged), `threads` as `--threads`, `runs` timed passes after one
//! warm-up; `NO_REWRITE=1` turns the load-time graph rewrites off. Prints the load time, the time per pass, and the nodes and operator kinds by
//! share of the total.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use infer::backend::{BackendOptions, TractBackend};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::plan::SimpleState;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = PathBuf::from(args.first().ok_or_else(|| anyhow::anyhow!("usage: tract_profile MODEL [rows] [threads] [runs]"))?);
    let rows: usize = args.get(1).map_or(Ok(512), |s| s.parse())?;
    let threads: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let runs: usize = args.get(3).map_or(Ok(3), |s| s.parse())?;
    let rewrite = std::env::var_os("NO_REWRITE").is_none();
    let (channels, length) = (6, 150);

    let start = Instant::now();
    let opts = BackendOptions { max_rows: rows, channels, length, threads };
    let plan = TractBackend::load_plan_with(&model, &opts, rewrite)?;
    println!("load + optimise: {:.3} s (graph rewrites {})", start.elapsed().as_secs_f64(), if rewrite { "on" } else { "off" });

    let input: Tensor = tract_ndarray::Array3::<f32>::from_shape_fn((rows, channels, length), |(r, c, l)| {
        // A one-hot-like pattern: realistic sparsity without depending on the data files.
        if c < 4 { f32::from(((r * 7 + l * 13) % 4) == c) } else { 0.0 }
    })
    .into();
    let mut state = SimpleState::new(&plan)?;
    state.run(tvec!(input.clone().into_tvalue()))?;

    let mut per_node: HashMap<usize, Duration> = HashMap::new();
    let total_start = Instant::now();
    for _ in 0..runs {
        state.run_plan_with_eval(tvec!(input.clone().into_tvalue()), |ctx, op_state, node, inputs| {
            let t = Instant::now();
            let r = tract_onnx::tract_core::plan::eval(ctx, op_state, node, inputs);
            *per_node.entry(node.id).or_default() += t.elapsed();
            r
        })?;
    }
    let total = total_start.elapsed();
    let pass = total.as_secs_f64() / runs as f64;
    println!(
        "{runs} passes of {rows} rows, {threads} thread(s): {:.1} ms/pass, {:.1} rows/s ({:.1} seq/s with RC averaging)",
        pass * 1e3,
        rows as f64 / pass,
        rows as f64 / pass / 2.0
    );

    let model = plan.model();
    let profiled: Duration = per_node.values().sum();
    let share = |d: Duration| 100.0 * d.as_secs_f64() / profiled.as_secs_f64();
    let mut nodes: Vec<(usize, Duration)> = per_node.iter().map(|(k, v)| (*k, *v)).collect();
    nodes.sort_by(|a, b| b.1.cmp(&a.1));
    println!("\ntop nodes (ms per pass, share):");
    for (id, d) in nodes.iter().take(25) {
        let node = model.node(*id);
        let out = model.outlet_fact(OutletId::new(*id, 0)).map(|f| format!("{f:?}")).unwrap_or_default();
        println!(
            "{:9.2} {:5.1}%  {:<28} {}  -> {}",
            d.as_secs_f64() * 1e3 / runs as f64,
            share(*d),
            node.op().name(),
            node.name,
            out
        );
    }
    let mut kinds: HashMap<String, (Duration, usize)> = HashMap::new();
    for (id, d) in &nodes {
        let e = kinds.entry(model.node(*id).op().name().to_string()).or_default();
        e.0 += *d;
        e.1 += 1;
    }
    let mut kinds: Vec<_> = kinds.into_iter().collect();
    kinds.sort_by(|a, b| b.1 .0.cmp(&a.1 .0));
    println!("\nby operator (ms per pass, share, nodes):");
    for (kind, (d, n)) in kinds {
        println!("{:9.2} {:5.1}%  {kind} x{n}", d.as_secs_f64() * 1e3 / runs as f64, share(d));
    }
    Ok(())
}
