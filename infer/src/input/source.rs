//! Byte source: file or stdin, gzip detected by magic bytes, with a running line count so
//! that read and decompression errors can name the line where the data broke off.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::read::MultiGzDecoder;

use super::InputError;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUF_SIZE: usize = 256 * 1024;

/// What the byte source observed, shared with the parser that sits on top of it (needletail
/// turns I/O errors into strings, so the original error is kept here).
#[derive(Default)]
pub(crate) struct SourceState {
    /// Newlines delivered so far (decompressed bytes, i.e. what the parser sees).
    newlines: AtomicU64,
    failure: Mutex<Option<Failure>>,
}

pub(crate) enum Failure {
    Gzip(String),
    Read(io::Error),
}

impl SourceState {
    /// The 1-based line being read when the source failed, or the current read frontier.
    pub(crate) fn frontier_line(&self) -> u64 {
        self.newlines.load(Ordering::Relaxed) + 1
    }

    /// Converts the recorded failure (if any) into an [`InputError`].
    pub(crate) fn take_failure(&self, file: &str) -> Option<InputError> {
        let failure = self.failure.lock().ok()?.take()?;
        let line = self.frontier_line();
        Some(match failure {
            Failure::Gzip(problem) => InputError::Gzip {
                file: file.to_string(),
                line,
                problem,
            },
            Failure::Read(source) => InputError::Read {
                file: file.to_string(),
                line,
                source,
            },
        })
    }

    /// The error for an `io::Error` that surfaced from the source stack.
    pub(crate) fn io_error(&self, file: &str, err: io::Error) -> InputError {
        self.take_failure(file).unwrap_or_else(|| InputError::Read {
            file: file.to_string(),
            line: self.frontier_line(),
            source: err,
        })
    }
}

/// Counts newlines and records the first error of the reader below it.
struct Watch<R> {
    inner: R,
    gzip: bool,
    state: Arc<SourceState>,
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                let lines = buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
                self.state.newlines.fetch_add(lines, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                // Any error from the decoder (not the file below it) means damaged gzip
                // data; flate2 reports a cut-off stream as UnexpectedEof.
                let failure = if self.gzip && is_decoder_error(&e) {
                    Failure::Gzip(if e.kind() == io::ErrorKind::UnexpectedEof {
                        "truncated gzip stream (the compressed data ends early: incomplete download or copy?)"
                            .to_string()
                    } else {
                        format!("corrupt gzip stream: {e}")
                    })
                } else {
                    Failure::Read(io::Error::new(e.kind(), e.to_string()))
                };
                if let Ok(mut slot) = self.state.failure.lock() {
                    slot.get_or_insert(failure);
                }
                Err(e)
            }
        }
    }
}

fn is_decoder_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
    )
}

/// An opened, decompressed, buffered input.
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) reader: Box<dyn BufRead + Send>,
    pub(crate) state: Arc<SourceState>,
    pub(crate) gzip: bool,
}

/// Display name of an input path: `<stdin>` for `-`.
pub(crate) fn display_name(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_string()
    } else {
        path.display().to_string()
    }
}

pub(crate) fn open_source(path: &Path) -> Result<Source, InputError> {
    let name = display_name(path);
    let raw: Box<dyn Read + Send> = if path == Path::new("-") {
        Box::new(io::stdin())
    } else {
        let file = File::open(path).map_err(|source| InputError::Open {
            file: name.clone(),
            source,
        })?;
        if file.metadata().map(|m| m.is_dir()).unwrap_or(false) {
            return Err(InputError::Open {
                file: name,
                source: io::Error::other("is a directory"),
            });
        }
        Box::new(file)
    };
    let state = Arc::new(SourceState::default());
    let (magic, raw) = read_prefix(raw, 2).map_err(|source| InputError::Read {
        file: name.clone(),
        line: 1,
        source,
    })?;
    let gzip = magic.starts_with(&GZIP_MAGIC);
    let prefixed = io::Cursor::new(magic).chain(raw);
    let decoded: Box<dyn Read + Send> = if gzip {
        Box::new(MultiGzDecoder::new(prefixed))
    } else {
        Box::new(prefixed)
    };
    let watched = Watch {
        inner: decoded,
        gzip,
        state: Arc::clone(&state),
    };
    Ok(Source {
        name,
        reader: Box::new(BufReader::with_capacity(BUF_SIZE, watched)),
        state,
        gzip,
    })
}

/// The first `n` bytes (fewer at end of input), read without a buffer so they can be
/// chained back in front of the rest; a pipe may deliver them in several reads.
fn read_prefix<R: Read>(mut reader: R, n: usize) -> io::Result<(Vec<u8>, R)> {
    let mut prefix = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match reader.read(&mut prefix[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    prefix.truncate(got);
    Ok((prefix, reader))
}
