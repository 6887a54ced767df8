//! `train bench-data`: the training data pipeline alone, as `train fit` runs it: the
//! training file read (streamed) into compact codes, then shuffled batches expanded into
//! model inputs and targets on the device, without the model. Used by
//! bench/compact-data.sh.

use std::time::Instant;

use train::device::DeviceSpec;
use train::model::ModelDescription;
use train::recipe::compact::{read_compact, TrainingData};
use train::recipe::BatchSampler;

use super::data::DataArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Preset or model.json whose preprocessing and objective shape the data
    #[arg(long, default_value = "dream-rnn")]
    arch: String,
    #[command(flatten)]
    data: DataArgs,
    #[arg(long, default_value_t = 1024, value_parser = super::at_least_one)]
    batch_size: usize,
    /// Batches to time
    #[arg(long, default_value_t = 1000)]
    batches: usize,
    #[arg(long, default_value = "cpu")]
    device: DeviceSpec,
    /// Intra-op threads (libtorch)
    #[arg(long)]
    threads: Option<i32>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(t) = args.threads {
        tch::set_num_threads(t);
    }
    let started = Instant::now();
    let device = args.device.resolve()?;
    let desc = ModelDescription::from_arg(&args.arch)?;
    let data = args.data.to_stored()?;
    let (train, valid) = read_compact(&data, &desc)?;
    let read_s = started.elapsed().as_secs_f64();
    let records = train.records() + valid.as_ref().map_or(0, |v| v.records());
    let bytes = train.heap_bytes() + valid.as_ref().map_or(0, |v| v.heap_bytes());
    zoo::outln!(
        "read: {records} records ({} training rows) in {read_s:.1} s, {:.0} records/s; compact data {:.0} MB",
        train.rows(),
        records as f64 / read_s,
        bytes as f64 / 1e6
    )?;
    let mut sampler = BatchSampler::new(train.rows(), args.batch_size, args.seed);
    // One untimed batch: first-touch allocations.
    let _ = train.batch(&sampler.next_batch(), device);
    let t = Instant::now();
    let cpu0 = cpu_seconds();
    let mut rows = 0usize;
    let mut checksum = 0f64;
    for _ in 0..args.batches {
        let idx = sampler.next_batch();
        rows += idx.len();
        let b = train.batch(&idx, device);
        // Read one value of each tensor: nothing is skipped, and CUDA work is waited for.
        let last = idx.len() as i64 - 1;
        checksum += b.x.double_value(&[last, 0, 0]) + b.y.double_value(&vec![last; b.y.dim()]);
    }
    let s = t.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    zoo::outln!(
        "pipeline: {rows} rows in {s:.2} s = {:.0} encoded sequences/s ({cpu:.2} CPU s: {:.0} per CPU second; {} batches of {}, {} intra-op threads, OpenMP wait policy {}, device {device:?}; checksum {checksum:.0})",
        rows as f64 / s,
        rows as f64 / cpu,
        args.batches,
        args.batch_size,
        tch::get_num_threads(),
        train::openmp::wait_policy()
    )?;
    Ok(())
}

/// User + system CPU time of this process so far: on a shared machine the wall-clock
/// rate depends on the load, the rate per CPU second much less.
fn cpu_seconds() -> f64 {
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct it is given.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 * 1e-6;
    t(u.ru_utime) + t(u.ru_stime)
}
