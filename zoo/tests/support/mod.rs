//! A scripted HTTP/1.1 server on 127.0.0.1 for download tests. Each path has a queue of
//! replies (the last one repeats); every request is logged with its Range header. The
//! server stops when dropped, and on its own after `MAX_LIFETIME` so a hung test cannot
//! leave it running.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX_LIFETIME: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub enum Reply {
    /// 200, or 206 when the request has a Range header.
    File(Arc<Vec<u8>>),
    /// Always 200 with the whole body, whatever the Range header says.
    FileIgnoringRange(Arc<Vec<u8>>),
    /// Like `File` (headers announce the full length) but the connection is closed
    /// after `after` bytes of the body.
    CutShort { body: Arc<Vec<u8>>, after: usize },
    /// Like `File`, written in `chunk`-byte pieces with `pause` between them.
    Throttled { body: Arc<Vec<u8>>, chunk: usize, pause: Duration },
    Status(u16),
    /// 302 to a path on this server.
    Redirect(String),
    /// Waits before sending anything, then answers as the inner reply.
    Delay(Duration, Box<Reply>),
}

pub fn bytes(data: Vec<u8>) -> Arc<Vec<u8>> {
    Arc::new(data)
}

/// Deterministic pseudo-random content (compresses poorly, like weights).
pub fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (x >> 33) as u8
        })
        .collect()
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub path: String,
    pub range: Option<String>,
}

#[derive(Default)]
struct State {
    routes: HashMap<String, Vec<Reply>>,
    log: Vec<Logged>,
}

pub struct Server {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        let accept = std::thread::spawn(move || {
            let born = Instant::now();
            while !sp.load(Ordering::Relaxed) && born.elapsed() < MAX_LIFETIME {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let st = st.clone();
                        std::thread::spawn(move || handle(stream, st));
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(2))
                    }
                    Err(_) => break,
                }
            }
        });
        Server {
            port,
            state,
            stop,
            accept: Some(accept),
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base())
    }

    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        assert!(!replies.is_empty());
        self.state.lock().unwrap().routes.insert(path.to_string(), replies);
    }

    /// Range headers of the requests made for `path`, in order.
    pub fn requests(&self, path: &str) -> Vec<Option<String>> {
        let st = self.state.lock().unwrap();
        st.log.iter().filter(|l| l.path == path).map(|l| l.range.clone()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn handle(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) if head.len() < 16 * 1024 => head.push(byte[0]),
            _ => return,
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut lines = text.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("/")
        .to_string();
    let range = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("range"))
        .map(|(_, v)| v.trim().to_string());
    let reply = {
        let mut st = state.lock().unwrap();
        st.log.push(Logged {
            path: path.clone(),
            range: range.clone(),
        });
        match st.routes.get_mut(&path) {
            Some(q) if q.len() > 1 => Some(q.remove(0)),
            Some(q) => Some(q[0].clone()),
            None => None,
        }
    };
    let reply = reply.unwrap_or(Reply::Status(404));
    respond(&mut stream, reply, range.as_deref());
}

fn status_line(code: u16) -> &'static str {
    match code {
        200 => "OK",
        206 => "Partial Content",
        302 => "Found",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Start offset of `bytes=N-` (the only form the client sends).
fn range_start(range: Option<&str>) -> Option<usize> {
    let r = range?.strip_prefix("bytes=")?;
    let (start, _) = r.split_once('-')?;
    start.trim().parse().ok()
}

fn respond(stream: &mut TcpStream, reply: Reply, range: Option<&str>) {
    let (body, limit, throttle) = match reply {
        Reply::Delay(d, inner) => {
            std::thread::sleep(d);
            return respond(stream, *inner, range);
        }
        Reply::Status(code) => {
            let msg = format!("scripted {code}\n");
            let _ = write!(
                stream,
                "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
                status_line(code),
                msg.len()
            );
            return;
        }
        Reply::Redirect(to) => {
            let _ = write!(
                stream,
                "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        Reply::FileIgnoringRange(body) => {
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(&body);
            return;
        }
        Reply::File(body) => (body, usize::MAX, None),
        Reply::CutShort { body, after } => (body, after, None),
        Reply::Throttled { body, chunk, pause } => (body, usize::MAX, Some((chunk, pause))),
    };
    let total = body.len();
    let start = range_start(range);
    let (code, from) = match start {
        Some(s) if s >= total => {
            let _ = write!(
                stream,
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        Some(s) => (206, s),
        None => (200, 0),
    };
    let mut head = format!(
        "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        status_line(code),
        total - from
    );
    if code == 206 {
        head.push_str(&format!("Content-Range: bytes {from}-{}/{total}\r\n", total - 1));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let end = from.saturating_add(limit).min(total);
    let data = &body[from..end];
    match throttle {
        None => {
            let _ = stream.write_all(data);
        }
        Some((chunk, pause)) => {
            for piece in data.chunks(chunk.max(1)) {
                if stream.write_all(piece).is_err() {
                    return;
                }
                std::thread::sleep(pause);
            }
        }
    }
    let _ = stream.flush();
    // Closing with unread data can turn into a reset; a clean FIN is what we script.
    let _ = stream.shutdown(std::net::Shutdown::Write);
}
