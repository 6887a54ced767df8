//! `train bench`: time the DREAM training step (forward, KL loss, backward, AdamW) at a
//! fixed batch size on random one-hot inputs. Used by bench/train and scripts/gpu-check.sh.

use std::time::Instant;

use tch::{Kind, Tensor};
use train::device::DeviceSpec;
use train::model::{ModelDescription, PrixFixeNet};
use train::recipe::optim::AdamW;

#[derive(clap::Args)]
pub struct Args {
    /// Presets or model.json files to time
    #[arg(long = "arch", default_values_t = ["dream-rnn".to_string(), "dream-cnn".to_string(), "dream-attn".to_string()])]
    archs: Vec<String>,
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(i64).range(1..))]
    batch_size: i64,
    /// Timed steps (after warm-up steps)
    #[arg(long, default_value_t = 5)]
    steps: usize,
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    #[arg(long)]
    threads: Option<i32>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    let device = args.device.resolve()?;
    zoo::outln!("device {device:?}, {} intra-op threads, batch {}", tch::get_num_threads(), args.batch_size)?;
    for arch in &args.archs {
        let desc = ModelDescription::from_arg(arch)?;
        let (c, l) = (desc.preprocessing.channels() as i64, desc.preprocessing.length as i64);
        let net = PrixFixeNet::new(desc.clone(), device, 1)?;
        let mut opt = AdamW::new(net.store.parameters(), 0.01);
        tch::manual_seed(3);
        let bases = Tensor::randint(4, [args.batch_size, l], (Kind::Int64, device));
        let onehot = bases.one_hot(4).permute([0, 2, 1]).to_kind(Kind::Float);
        let flags = Tensor::zeros([args.batch_size, c - 4, l], (Kind::Float, device));
        let x = Tensor::cat(&[onehot, flags], 1);
        // Soft-bin heads train with KL to soft targets, regression heads with MSE.
        let bins = desc.architecture.final_.get("n_bins").and_then(|v| v.as_i64()).unwrap_or(18);
        let target = Tensor::rand([args.batch_size, bins], (Kind::Float, device)).softmax(1, Kind::Float);
        let sync = || {
            if device.is_cuda() {
                tch::Cuda::synchronize(0);
            }
        };
        // Seconds in forward+loss, backward, optimiser.
        let step = |opt: &mut AdamW| -> [f64; 3] {
            let t = Instant::now();
            let out = net.forward_t(&x, true);
            let loss = match &out.logits {
                Some(z) => z.log_softmax(1, Kind::Float).kl_div(&target, tch::Reduction::Sum, false) / args.batch_size as f64,
                None => out.prediction.square().mean(Kind::Float),
            };
            sync();
            let fwd = t.elapsed().as_secs_f64();
            let t = Instant::now();
            opt.zero_grad();
            loss.backward();
            sync();
            let bwd = t.elapsed().as_secs_f64();
            let t = Instant::now();
            opt.step(1e-4, 0.9);
            let _ = loss.double_value(&[]);
            sync();
            [fwd, bwd, t.elapsed().as_secs_f64()]
        };
        for _ in 0..args.warmup {
            step(&mut opt);
        }
        let mut parts = [0.0; 3];
        for _ in 0..args.steps {
            let p = step(&mut opt);
            for k in 0..3 {
                parts[k] += p[k] / args.steps as f64;
            }
        }
        let secs: f64 = parts.iter().sum();
        zoo::outln!(
            "{:<12} {:>10.1} ms/step  {:>10.1} training sequences/s  (forward {:.1} ms, backward {:.1} ms, AdamW {:.1} ms)",
            desc.name,
            secs * 1e3,
            args.batch_size as f64 / secs,
            parts[0] * 1e3,
            parts[1] * 1e3,
            parts[2] * 1e3
        )?;
    }
    Ok(())
}
