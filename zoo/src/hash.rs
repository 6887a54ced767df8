//! Streaming sha256 with one large reusable buffer: model files are hundreds of MB and
//! hashing must keep up with the network (sha2 picks the SHA-NI/ARMv8 path at run time
//! through cpufeatures).

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

/// Read/write unit for downloads, copies and hashing.
pub const BUF_SIZE: usize = 1 << 20;

/// Fills `buf` as far as the reader allows; returns fewer bytes only at end of stream.
/// Large writes/hash updates amortise per-call overhead when the network hands out
/// small chunks.
pub fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if filled > 0 {
                    // Hand back what arrived; the error will recur on the next call.
                    break;
                }
                return Err(e);
            }
        }
    }
    Ok(filled)
}

/// Feeds up to `limit` bytes of `reader` into `hasher`; returns the count consumed.
pub fn hash_reader(reader: &mut dyn Read, hasher: &mut Sha256, limit: u64, buf: &mut [u8]) -> io::Result<u64> {
    let mut total = 0u64;
    while total < limit {
        let want = (limit - total).min(buf.len() as u64) as usize;
        let n = read_full(reader, &mut buf[..want])?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok(total)
}

/// Copies `src` to `dst` (created or truncated) while hashing, syncs `dst`, and returns
/// (bytes copied, lowercase hex sha256); `on_chunk` sees each chunk's length (progress).
pub fn copy_hashing(src: &Path, dst: &Path, on_chunk: &mut dyn FnMut(u64)) -> crate::error::Result<(u64, String)> {
    use crate::error::ZooError;
    use std::io::Write;
    let mut input = File::open(src).map_err(|e| ZooError::io("cannot open", src, e))?;
    let mut out = File::create(dst).map_err(|e| ZooError::io("cannot create", dst, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let mut total = 0u64;
    loop {
        let n = read_full(&mut input, &mut buf).map_err(|e| ZooError::io("cannot read", src, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(|e| ZooError::io("cannot write", dst, e))?;
        total += n as u64;
        on_chunk(n as u64);
    }
    out.sync_all().map_err(|e| ZooError::io("cannot write", dst, e))?;
    Ok((total, hex::encode(hasher.finalize())))
}

/// (size, lowercase hex sha256) of a file.
pub fn sha256_file(path: &Path) -> io::Result<(u64, String)> {
    let mut f = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUF_SIZE];
    let n = hash_reader(&mut f, &mut hasher, u64::MAX, &mut buf)?;
    Ok((n, hex::encode(hasher.finalize())))
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether sha2 can use the x86 SHA extensions here (reported by the hash benchmark).
pub fn sha_extensions_available() -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "x86"))]
    {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
    }
    #[cfg(target_arch = "aarch64")]
    {
        std::arch::is_aarch64_feature_detected!("sha2")
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "x86", target_arch = "aarch64")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn known_vector() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn file_hash_matches_in_memory_hash_across_buffer_boundary() {
        let data: Vec<u8> = (0..(BUF_SIZE + 12345)).map(|i| (i * 31 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        let (n, h) = sha256_file(f.path()).unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(h, sha256_hex(&data));
    }

    #[test]
    fn hash_reader_stops_at_limit() {
        let data = vec![7u8; 1000];
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 64];
        let n = hash_reader(&mut &data[..], &mut hasher, 300, &mut buf).unwrap();
        assert_eq!(n, 300);
        assert_eq!(hex::encode(hasher.finalize()), sha256_hex(&data[..300]));
    }
}
