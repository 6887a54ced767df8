//! Byte source: file or stdin, gzip detected by magic bytes, with a running line count so
//! that read and decompression errors can name the line where the data broke off.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use flate2::read::MultiGzDecoder;

use super::{InputError, Limits};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUF_SIZE: usize = 256 * 1024;

/// What the byte source observed, shared with the parser that sits on top of it (needletail
/// turns I/O errors into strings, so the original error is kept here).
#[derive(Default)]
pub(crate) struct SourceState {
    /// Newlines delivered so far (decompressed bytes, i.e. what the parser sees).
    newlines: AtomicU64,
    failure: Mutex<Option<Failure>>,
    /// Set once the format is known to be FASTA/FASTQ: a record then spans lines, and the
    /// record-size guard resets only where a line starts with `>` or `@`.
    multiline_records: AtomicBool,
}

pub(crate) enum Failure {
    Gzip(String),
    Read(io::Error),
    Limit(String),
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
            Failure::Limit(message) => InputError::Limit {
                file: file.to_string(),
                line,
                message,
            },
        })
    }

    pub(crate) fn set_multiline_records(&self) {
        self.multiline_records.store(true, Ordering::Relaxed);
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

/// Counts newlines, enforces the [`Limits`] on what the parser above may be handed, and
/// records the first error of the reader below it.
///
/// The limits are checked here, on the byte stream, because the parsers above buffer a
/// whole record (needletail grows its buffer until a record fits): a check on the parsed
/// record would come after the memory was spent.
struct Watch<R> {
    inner: R,
    gzip: bool,
    state: Arc<SourceState>,
    /// Decompressed bytes delivered so far (counted for gzip input only).
    delivered: u64,
    max_decompressed: u64,
    /// Bytes since the current record began (see [`SourceState::multiline_records`]).
    record_bytes: u64,
    max_record_bytes: u64,
    max_record_len: u64,
    at_line_start: bool,
}

impl<R: Read> Watch<R> {
    /// Advances the counters over `chunk`; `Err` names the limit it crossed.
    fn account(&mut self, chunk: &[u8]) -> Result<(), String> {
        let multiline = self.state.multiline_records.load(Ordering::Relaxed);
        let mut lines = 0;
        let mut rest = chunk;
        let mut too_long = false;
        while !rest.is_empty() {
            if self.at_line_start && (!multiline || rest[0] == b'>' || rest[0] == b'@') {
                self.record_bytes = 0;
            }
            let (line, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(p) => (p + 1, true),
                None => (rest.len(), false),
            };
            self.record_bytes += line as u64;
            too_long |= self.record_bytes > self.max_record_bytes;
            self.at_line_start = next;
            lines += u64::from(next);
            rest = &rest[line..];
        }
        self.state.newlines.fetch_add(lines, Ordering::Relaxed);
        if too_long {
            return Err(format!(
                "record too long: over {} bytes without a record boundary, for a limit of {} bases \
                 (--max-record-length; a missing line break or a damaged file?)",
                self.max_record_bytes, self.max_record_len
            ));
        }
        if self.gzip {
            self.delivered += chunk.len() as u64;
            if self.delivered > self.max_decompressed {
                return Err(format!(
                    "gzip input decompresses to more than {} bytes (--max-decompressed-size; \
                     raise it for larger inputs)",
                    self.max_decompressed
                ));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Watch<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => match self.account(&buf[..n]) {
                Ok(()) => Ok(n),
                Err(message) => {
                    if let Ok(mut slot) = self.state.failure.lock() {
                        slot.get_or_insert(Failure::Limit(message.clone()));
                    }
                    Err(io::Error::new(io::ErrorKind::FileTooLarge, message))
                }
            },
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

pub(crate) fn open_source(path: &Path, limits: &Limits) -> Result<Source, InputError> {
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
    source_from_reader(name, raw, limits)
}

/// A [`Source`] over any byte stream; `name` stands for it in errors.
pub(crate) fn source_from_reader(
    name: String,
    raw: Box<dyn Read + Send>,
    limits: &Limits,
) -> Result<Source, InputError> {
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
        delivered: 0,
        max_decompressed: limits.max_decompressed_size,
        record_bytes: 0,
        max_record_bytes: limits.max_record_bytes(),
        max_record_len: limits.max_record_length as u64,
        at_line_start: true,
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
