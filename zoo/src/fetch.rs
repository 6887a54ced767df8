//! Getting bytes from a registry: a local directory or an http(s) server.
//!
//! A file is fetched into `<file>.part` while being hashed, and is complete only when
//! size and sha256 match the index. Interrupted transfers resume with a Range request;
//! 5xx responses, timeouts and dropped connections are retried with exponential backoff;
//! 4xx responses are final (retrying a 404 only hammers the server).

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use indicatif::ProgressBar;
use reqwest::blocking::Client;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, RANGE};
use reqwest::StatusCode;
use sha2::{Digest, Sha256};

use crate::error::{Result, ZooError};
use crate::hash::{hash_reader, read_full, BUF_SIZE};
use crate::index::FileEntry;

/// Largest index accepted over the network; a registry index is kilobytes.
const MAX_INDEX_BYTES: u64 = 64 << 20;
/// Upper bound on attempts for one file even when each attempt makes progress.
const MAX_TOTAL_ATTEMPTS: u32 = 100;

/// Where one file can be read from, in the order to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Local(PathBuf),
    Url(String),
}

#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Connect timeout, and the longest wait for any single read.
    pub timeout: Duration,
    /// Retries after the first attempt for transient failures.
    pub retries: u32,
    /// First backoff delay; doubles per consecutive failure, capped at 30 s.
    pub backoff: Duration,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            timeout: Duration::from_secs(30),
            retries: 5,
            backoff: Duration::from_millis(500),
        }
    }
}

pub(crate) struct Fetcher {
    net: NetConfig,
    // Built on first use: a blocking client starts a runtime thread, wasted on
    // cache hits and local registries.
    client: OnceLock<std::result::Result<Client, String>>,
}

/// How a single HTTP attempt ended without a hard error.
enum Attempt {
    /// The body ended (possibly short of the expected size).
    Ended,
    /// The server's answer did not line up with our partial file; start over.
    Restart,
}

/// A `.part` file being filled, with the hash of everything written so far.
struct Partial {
    path: PathBuf,
    file: File,
    hasher: Sha256,
    len: u64,
}

impl Partial {
    /// Opens `path`, keeping a previous partial download if it can be a prefix of
    /// the expected file (its bytes are checked by the final hash anyway).
    fn open(path: &Path, expected_size: u64, buf: &mut [u8]) -> Result<Partial> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| ZooError::io("cannot open", path, e))?;
        let len = file
            .metadata()
            .map_err(|e| ZooError::io("cannot stat", path, e))?
            .len();
        let mut p = Partial {
            path: path.to_path_buf(),
            file,
            hasher: Sha256::new(),
            len: 0,
        };
        if len > 0 && len <= expected_size {
            let hashed = hash_reader(&mut p.file, &mut p.hasher, len, buf)
                .map_err(|e| ZooError::io("cannot read", path, e))?;
            p.len = hashed;
        }
        p.truncate_to_len()?;
        Ok(p)
    }

    fn reset(&mut self) -> Result<()> {
        self.len = 0;
        self.hasher = Sha256::new();
        self.truncate_to_len()
    }

    fn truncate_to_len(&mut self) -> Result<()> {
        self.file
            .set_len(self.len)
            .and_then(|_| self.file.seek(SeekFrom::Start(self.len)).map(|_| ()))
            .map_err(|e| ZooError::io("cannot truncate", &self.path, e))
    }

    fn append(&mut self, data: &[u8]) -> Result<()> {
        self.file
            .write_all(data)
            .map_err(|e| ZooError::io("cannot write", &self.path, e))?;
        self.hasher.update(data);
        self.len += data.len() as u64;
        Ok(())
    }

    fn digest_hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl Fetcher {
    pub(crate) fn new(net: NetConfig) -> Fetcher {
        Fetcher {
            net,
            client: OnceLock::new(),
        }
    }

    pub(crate) fn net(&self) -> &NetConfig {
        &self.net
    }

    pub(crate) fn client(&self) -> Result<&Client> {
        let built = self.client.get_or_init(|| {
            Client::builder()
                .user_agent(concat!("zoo/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(self.net.timeout)
                .timeout(self.net.timeout)
                .build()
                .map_err(|e| error_chain(&e))
        });
        built.as_ref().map_err(|message| ZooError::Network {
            url: "(client setup)".into(),
            message: message.clone(),
        })
    }

    pub(crate) fn backoff(&self, consecutive_failures: u32) {
        let factor = 1u32 << consecutive_failures.saturating_sub(1).min(10);
        let delay = self.net.backoff.saturating_mul(factor).min(Duration::from_secs(30));
        std::thread::sleep(delay);
    }

    /// GET of a small document (the index), with retries.
    pub(crate) fn get_bytes(&self, url: &str) -> Result<Vec<u8>> {
        let mut failures = 0;
        loop {
            let result = self.get_bytes_once(url);
            match result {
                Err(e) if e.is_transient() && failures < self.net.retries => {
                    failures += 1;
                    self.backoff(failures);
                }
                Err(e) => return Err(with_attempts(e, failures + 1)),
                Ok(bytes) => return Ok(bytes),
            }
        }
    }

    fn get_bytes_once(&self, url: &str) -> Result<Vec<u8>> {
        let resp = self.client()?.get(url).send().map_err(|e| classify(&e, url))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(ZooError::Http {
                status: status.as_u16(),
                url: resp.url().to_string(),
            });
        }
        let mut bytes = Vec::new();
        resp.take(MAX_INDEX_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| classify_io(&e, url))?;
        if bytes.len() as u64 > MAX_INDEX_BYTES {
            return Err(ZooError::InvalidIndex {
                location: url.to_string(),
                reason: format!("larger than {MAX_INDEX_BYTES} bytes"),
            });
        }
        Ok(bytes)
    }

    /// Fills `part` with the file described by `expected`, trying `sources` in order.
    /// On success `part` holds exactly the expected bytes (size and sha256 checked) and
    /// the caller renames it into place. On a content error the partial file is removed.
    pub(crate) fn fetch_file(
        &self,
        sources: &[Source],
        part: &Path,
        expected: &FileEntry,
        label: &str,
        progress: &ProgressBar,
    ) -> Result<()> {
        let mut first_err = None;
        for source in sources {
            let before = progress.position();
            let result = match source {
                Source::Local(path) => copy_local(path, part, expected, label, progress),
                Source::Url(url) => self.fetch_url(url, part, expected, label, progress),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(e) => {
                    // An empty partial is not worth keeping (and would look like debris).
                    if std::fs::metadata(part).is_ok_and(|m| m.len() == 0) {
                        let _ = std::fs::remove_file(part);
                    }
                    // Bytes counted for a failed source will be fetched again.
                    progress.set_position(before);
                    first_err.get_or_insert(e);
                }
            }
        }
        Err(first_err.unwrap_or_else(|| ZooError::InvalidIndex {
            location: label.to_string(),
            reason: "no source to fetch from".into(),
        }))
    }

    fn fetch_url(
        &self,
        url: &str,
        part_path: &Path,
        expected: &FileEntry,
        label: &str,
        progress: &ProgressBar,
    ) -> Result<()> {
        let mut buf = vec![0u8; BUF_SIZE];
        let mut part = Partial::open(part_path, expected.size, &mut buf)?;
        let mut resumed = part.len > 0;
        progress.inc(part.len);
        let mut failures = 0u32;
        let mut attempts = 0u32;
        loop {
            if part.len == expected.size {
                let actual = part.digest_hex();
                if actual == expected.sha256 {
                    return Ok(());
                }
                progress.set_position(progress.position().saturating_sub(part.len));
                if resumed {
                    // The kept prefix may be what is wrong; one clean download decides.
                    resumed = false;
                    part.reset()?;
                    continue;
                }
                drop(part);
                let _ = std::fs::remove_file(part_path);
                return Err(ZooError::ChecksumMismatch {
                    file: label.to_string(),
                    expected: expected.sha256.clone(),
                    actual,
                });
            }
            if attempts >= MAX_TOTAL_ATTEMPTS {
                return Err(ZooError::Network {
                    url: url.to_string(),
                    message: format!("gave up after {attempts} attempts"),
                });
            }
            attempts += 1;
            let len_before = part.len;
            let err = match self.attempt(url, &mut part, expected, label, progress, &mut buf) {
                Ok(Attempt::Restart) => {
                    progress.set_position(progress.position().saturating_sub(len_before));
                    resumed = false;
                    None
                }
                Ok(Attempt::Ended) if part.len == expected.size => None,
                Ok(Attempt::Ended) => Some(ZooError::Network {
                    url: url.to_string(),
                    message: format!(
                        "connection closed after {} of {} bytes",
                        part.len, expected.size
                    ),
                }),
                Err(e @ ZooError::SizeMismatch { .. }) => {
                    drop(part);
                    let _ = std::fs::remove_file(part_path);
                    return Err(e);
                }
                Err(e) => Some(e),
            };
            let Some(err) = err else { continue };
            if !err.is_transient() {
                return Err(err);
            }
            failures = if part.len > len_before { 1 } else { failures + 1 };
            if failures > self.net.retries {
                return Err(with_attempts(err, attempts));
            }
            self.backoff(failures);
        }
    }

    /// One GET (ranged when resuming), streamed into `part`.
    fn attempt(
        &self,
        url: &str,
        part: &mut Partial,
        expected: &FileEntry,
        label: &str,
        progress: &ProgressBar,
        buf: &mut [u8],
    ) -> Result<Attempt> {
        let mut req = self.client()?.get(url);
        if part.len > 0 {
            req = req.header(RANGE, format!("bytes={}-", part.len));
        }
        let mut resp = req.send().map_err(|e| classify(&e, url))?;
        let status = resp.status();
        if status == StatusCode::RANGE_NOT_SATISFIABLE && part.len > 0 {
            part.reset()?;
            return Ok(Attempt::Restart);
        }
        if !status.is_success() {
            return Err(ZooError::Http {
                status: status.as_u16(),
                url: resp.url().to_string(),
            });
        }
        let body_len = header_u64(&resp, CONTENT_LENGTH);
        if status == StatusCode::PARTIAL_CONTENT {
            let range = resp
                .headers()
                .get(CONTENT_RANGE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_content_range);
            match range {
                Some((start, total)) if start == part.len => {
                    if let Some(total) = total {
                        if total != expected.size {
                            return Err(size_mismatch(label, expected.size, total));
                        }
                    }
                }
                // A range we did not ask for: do not splice it in.
                _ => {
                    part.reset()?;
                    return Ok(Attempt::Restart);
                }
            }
        } else {
            if part.len > 0 {
                // Server ignored Range and sends the whole file.
                progress.set_position(progress.position().saturating_sub(part.len));
                part.reset()?;
            }
            if let Some(total) = body_len {
                if total != expected.size {
                    return Err(size_mismatch(label, expected.size, total));
                }
            }
        }
        loop {
            // Ask for one byte more than needed so that an over-long body is noticed.
            let want = (expected.size - part.len + 1).min(buf.len() as u64) as usize;
            let n = read_full(&mut resp, &mut buf[..want]).map_err(|e| classify_io(&e, url))?;
            if n == 0 {
                return Ok(Attempt::Ended);
            }
            if part.len + n as u64 > expected.size {
                return Err(size_mismatch(label, expected.size, part.len + n as u64));
            }
            part.append(&buf[..n])?;
            progress.inc(n as u64);
        }
    }
}

fn copy_local(src: &Path, part_path: &Path, expected: &FileEntry, label: &str, progress: &ProgressBar) -> Result<()> {
    let size = std::fs::metadata(src)
        .map_err(|e| ZooError::io("cannot stat", src, e))?
        .len();
    if size != expected.size {
        return Err(size_mismatch(label, expected.size, size));
    }
    let (total, actual) = crate::hash::copy_hashing(src, part_path, &mut |n| progress.inc(n))?;
    if total != expected.size || actual != expected.sha256 {
        let _ = std::fs::remove_file(part_path);
        if total != expected.size {
            return Err(size_mismatch(label, expected.size, total));
        }
        return Err(ZooError::ChecksumMismatch {
            file: label.to_string(),
            expected: expected.sha256.clone(),
            actual,
        });
    }
    Ok(())
}

fn size_mismatch(label: &str, expected: u64, actual: u64) -> ZooError {
    ZooError::SizeMismatch {
        file: label.to_string(),
        expected,
        actual,
    }
}

fn header_u64(resp: &reqwest::blocking::Response, name: reqwest::header::HeaderName) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`) -> (START, TOTAL).
pub(crate) fn parse_content_range(v: &str) -> Option<(u64, Option<u64>)> {
    let rest = v.trim().strip_prefix("bytes")?.trim_start();
    let (range, total) = rest.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let start: u64 = start.trim().parse().ok()?;
    let end: u64 = end.trim().parse().ok()?;
    if end < start {
        return None;
    }
    let total = match total.trim() {
        "*" => None,
        t => Some(t.parse().ok()?),
    };
    Some((start, total))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let s_msg = s.to_string();
        if !msg.contains(&s_msg) {
            msg.push_str(": ");
            msg.push_str(&s_msg);
        }
        src = s.source();
    }
    msg
}

pub(crate) fn classify(e: &reqwest::Error, url: &str) -> ZooError {
    if e.is_timeout() {
        ZooError::Timeout {
            url: url.to_string(),
            attempts: 1,
        }
    } else {
        ZooError::Network {
            url: url.to_string(),
            message: error_chain(e),
        }
    }
}

pub(crate) fn classify_io(e: &io::Error, url: &str) -> ZooError {
    let inner_timeout = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<reqwest::Error>())
        .is_some_and(|r| r.is_timeout());
    if e.kind() == io::ErrorKind::TimedOut || inner_timeout {
        ZooError::Timeout {
            url: url.to_string(),
            attempts: 1,
        }
    } else {
        ZooError::Network {
            url: url.to_string(),
            message: error_chain(e),
        }
    }
}

fn with_attempts(e: ZooError, n: u32) -> ZooError {
    match e {
        ZooError::Timeout { url, .. } => ZooError::Timeout { url, attempts: n },
        ZooError::Network { url, message } if n > 1 => ZooError::Network {
            url,
            message: format!("{message} (after {n} attempts)"),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parsing() {
        assert_eq!(parse_content_range("bytes 100-199/200"), Some((100, Some(200))));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, None)));
        assert_eq!(parse_content_range("bytes 5-4/10"), None);
        assert_eq!(parse_content_range("items 0-1/2"), None);
        assert_eq!(parse_content_range("bytes */200"), None);
    }

    #[test]
    fn local_copy_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.bin");
        std::fs::write(&src, b"hello").unwrap();
        let part = dir.path().join("out.part");
        let good = FileEntry {
            size: 5,
            sha256: crate::hash::sha256_hex(b"hello"),
            mirrors: vec![],
        };
        copy_local(&src, &part, &good, "src.bin", &ProgressBar::hidden()).unwrap();
        assert_eq!(std::fs::read(&part).unwrap(), b"hello");
        let bad = FileEntry {
            sha256: crate::hash::sha256_hex(b"HELLO"),
            ..good
        };
        let e = copy_local(&src, &part, &bad, "src.bin", &ProgressBar::hidden()).unwrap_err();
        assert!(matches!(e, ZooError::ChecksumMismatch { .. }));
        assert!(!part.exists());
    }
}
