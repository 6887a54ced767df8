//! Measures sha256 throughput the way downloads use it (1 MiB updates).
//! `cargo run --release -p zoo --example hash_speed [MiB]` prints one line:
//! `sha256: X.XX GB/s over N MiB (SHA extensions: yes|no)`.

use std::time::Instant;

use sha2::{Digest, Sha256};

fn main() {
    let mib: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let block: Vec<u8> = (0..zoo::hash::BUF_SIZE).map(|i| (i * 131 % 251) as u8).collect();
    let mut hasher = Sha256::new();
    // Warm-up so page faults and CPU frequency ramp-up are not measured.
    for _ in 0..16 {
        hasher.update(&block);
    }
    let t0 = Instant::now();
    for _ in 0..mib {
        hasher.update(&block);
    }
    let secs = t0.elapsed().as_secs_f64();
    std::hint::black_box(hasher.finalize());
    let gbps = (mib * zoo::hash::BUF_SIZE) as f64 / secs / 1e9;
    println!(
        "sha256: {gbps:.2} GB/s over {mib} MiB (SHA extensions: {})",
        if zoo::hash::sha_extensions_available() { "yes" } else { "no" }
    );
}
