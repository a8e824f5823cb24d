//! A tiny static HTTP/1.1 file server for the simulator's web page
//! (`loopscope serve --port <p>`).
//!
//! GET and HEAD only, one request per connection, one thread per connection.
//! Every response carries the cross-origin isolation headers (COOP, COEP and
//! CORP), so the page may use `SharedArrayBuffer` and `Atomics.wait`, and
//! `Cache-Control: no-store`, so a rebuilt wasm module is always picked up.
//! It is meant for local development, not for the open internet.

use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// Largest request head (request line plus headers) accepted; larger gets 431.
const MAX_HEAD: usize = 16 * 1024;
/// How long a client may take to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to accept the response.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the client to close after the response was sent.
const LINGER_TIMEOUT: Duration = Duration::from_secs(1);
/// Most unread request bytes (e.g. a POST body) discarded before closing.
const MAX_DRAIN: usize = 64 * 1024;

/// Headers sent with every response.
const COMMON_HEADERS: &str = concat!(
    "Cross-Origin-Opener-Policy: same-origin\r\n",
    "Cross-Origin-Embedder-Policy: require-corp\r\n",
    "Cross-Origin-Resource-Policy: same-origin\r\n",
    "Cache-Control: no-store\r\n",
    "X-Content-Type-Options: nosniff\r\n",
    "Connection: close\r\n",
);

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// What a request target maps to under the served root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A regular file inside the root (canonicalized path) and its MIME type.
    File {
        path: PathBuf,
        content_type: &'static str,
    },
    /// A directory named without its trailing slash: redirect (302) to
    /// `location`, the same path with `/` appended and the query kept, so the
    /// page's relative URLs resolve against the directory.
    Redirect { location: String },
    /// Nothing servable there (404).
    NotFound,
    /// Malformed or escaping path: `..` segment, backslash, NUL, bad
    /// percent-encoding, or a target outside the root (403).
    Forbidden,
}

/// Serves `root` over HTTP on `listener` until the process is killed.
///
/// The caller binds the listener (and can print its address). Fails only if
/// `root` is not an existing directory; errors on single connections are
/// logged to stderr and never stop the server. Logs one line per request,
/// e.g. `GET /www/app.js 200 1234` (method, target, status, body length).
pub fn serve(root: &Path, listener: TcpListener) -> io::Result<()> {
    let root = root.canonicalize()?;
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a directory: {}", root.display()),
        ));
    }
    let root = Arc::new(root);
    for conn in listener.incoming() {
        let stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                // E.g. out of file descriptors: back off instead of spinning.
                eprintln!("serve: accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let root = Arc::clone(&root);
        let spawned = thread::Builder::new()
            .name("serve-conn".to_owned())
            .spawn(move || {
                if let Err(e) = handle_connection(&root, stream) {
                    eprintln!("serve: connection error: {e}");
                }
            });
        if let Err(e) = spawned {
            // The closure, and with it the stream, is dropped: connection closed.
            eprintln!("serve: cannot spawn a connection thread: {e}");
        }
    }
    Ok(())
}

/// Maps a request target (e.g. `"/www/app.js?x=1"`) to a file under `root`.
///
/// Strips the query and fragment, percent-decodes the path, maps `/` and any
/// path ending in `/` to `index.html` in that directory, and refuses anything
/// that could leave `root` (`..` segments, backslashes, NUL, symlinks whose
/// canonical target lies outside the canonicalized root), and hidden names (a
/// segment starting with `.`: the repository's `.git`, `.ci`, editors' files).
/// Touches the file
/// system only to canonicalize and stat; never reads a file.
pub fn resolve(root: &Path, target: &str) -> Resolved {
    let path_end = target.find(['?', '#']).unwrap_or(target.len());
    let raw_path = &target[..path_end];
    let suffix = &target[path_end..];
    let query = suffix.find('#').map_or(suffix, |i| &suffix[..i]);

    if !raw_path.starts_with('/') {
        return Resolved::Forbidden;
    }
    let Some(decoded) = percent_decode(raw_path) else {
        return Resolved::Forbidden;
    };
    if decoded.contains(['\\', '\0']) {
        return Resolved::Forbidden;
    }
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return Resolved::Forbidden,
            hidden if hidden.starts_with('.') => return Resolved::Forbidden,
            name => relative.push(name),
        }
    }
    let wants_directory = decoded.ends_with('/');
    if wants_directory {
        relative.push("index.html");
    }

    let Ok(root) = root.canonicalize() else {
        return Resolved::NotFound;
    };
    let requested = root.join(&relative);
    let canonical = match requested.canonicalize() {
        Ok(path) => path,
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => return Resolved::Forbidden,
        Err(_) => return Resolved::NotFound,
    };
    let Ok(inside) = canonical.strip_prefix(&root) else {
        return Resolved::Forbidden;
    };
    // A symlink may lead to a hidden name the request did not spell.
    if inside
        .components()
        .any(|c| c.as_os_str().to_string_lossy().starts_with('.'))
    {
        return Resolved::Forbidden;
    }
    match fs::metadata(&canonical) {
        Ok(meta) if meta.is_file() => Resolved::File {
            // Typed by the name asked for, which matters if it is a symlink.
            content_type: content_type(&requested),
            path: canonical,
        },
        Ok(meta) if meta.is_dir() && !wants_directory => Resolved::Redirect {
            location: format!("{raw_path}/{query}"),
        },
        _ => Resolved::NotFound,
    }
}

/// MIME type for a file name, by its (case-insensitive) extension;
/// `application/octet-stream` if unknown.
pub fn content_type(path: &Path) -> &'static str {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "csv" => "text/csv",
        "txt" | "md" => TEXT_PLAIN,
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; `None` if an escape is malformed or the result is
/// not UTF-8. `+` stays `+` (it means a space only in query strings).
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_value(*bytes.get(i + 1)?)?;
            let low = hex_value(*bytes.get(i + 2)?)?;
            out.push((high << 4) | low);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Outcome of reading a request head.
#[derive(Debug, PartialEq, Eq)]
enum Head {
    /// The head, up to and including the blank line that ends it.
    Complete(Vec<u8>),
    /// The client closed without sending anything.
    Empty,
    /// The client closed in the middle of the head.
    Truncated,
    /// The head exceeds [`MAX_HEAD`].
    TooLarge,
}

/// Reads until the blank line ending the request head (`\r\n\r\n`, or a bare
/// `\n\n`), at most [`MAX_HEAD`] bytes. Bytes after the head are discarded.
fn read_head(reader: &mut impl Read) -> io::Result<Head> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Ok(if buf.is_empty() {
                Head::Empty
            } else {
                Head::Truncated
            });
        }
        // The terminator may straddle two reads.
        let search_from = buf.len().saturating_sub(3);
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = head_end(&buf[search_from..]) {
            let end = search_from + end;
            if end > MAX_HEAD {
                return Ok(Head::TooLarge);
            }
            buf.truncate(end);
            return Ok(Head::Complete(buf));
        }
        if buf.len() > MAX_HEAD {
            return Ok(Head::TooLarge);
        }
    }
}

/// Index just past the first `\r\n\r\n` or `\n\n` in `buf`.
fn head_end(buf: &[u8]) -> Option<usize> {
    (0..buf.len()).find_map(|i| {
        let rest = &buf[i..];
        if rest.starts_with(b"\r\n\r\n") {
            Some(i + 4)
        } else if rest.starts_with(b"\n\n") {
            Some(i + 2)
        } else {
            None
        }
    })
}

/// Splits the request line `METHOD SP TARGET SP HTTP/1.x` into method and
/// target; `None` if it is malformed (which gets a 400). Only origin-form
/// targets (starting with `/`) are accepted.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let end = head.iter().position(|&b| b == b'\n')?;
    let line = &head[..end];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let method = parts.next()?;
    let target = parts.next()?;
    let version = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let is_token_byte = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return None;
    }
    if !target.starts_with('/') || target.bytes().any(|b| b.is_ascii_control()) {
        return None;
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return None;
    }
    Some((method, target))
}

/// A response about to be written.
#[derive(Debug)]
struct Response {
    status: u16,
    content_type: &'static str,
    body: Vec<u8>,
    location: Option<String>,
    allow: bool,
}

impl Response {
    /// A short plain-text response such as `404 Not Found`.
    fn text(status: u16) -> Self {
        Response {
            status,
            content_type: TEXT_PLAIN,
            body: format!("{status} {}\n", reason(status)).into_bytes(),
            location: None,
            allow: false,
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        _ => "Internal Server Error",
    }
}

/// Reads one request, answers it, logs it, and closes the connection.
fn handle_connection(root: &Path, mut stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let (method, target, response) = match read_head(&mut stream)? {
        Head::Empty => return Ok(()),
        Head::Truncated => ("-".to_owned(), "-".to_owned(), Response::text(400)),
        Head::TooLarge => ("-".to_owned(), "-".to_owned(), Response::text(431)),
        Head::Complete(head) => match parse_request_line(&head) {
            Some((method, target)) => (
                method.to_owned(),
                target.to_owned(),
                respond(root, method, target),
            ),
            None => ("-".to_owned(), "-".to_owned(), Response::text(400)),
        },
    };
    eprintln!("{method} {target} {} {}", response.status, response.body.len());
    let written = write_response(&mut stream, &response, method != "HEAD");
    linger(&mut stream);
    written
}

/// Decides the response to a well-formed request.
fn respond(root: &Path, method: &str, target: &str) -> Response {
    if !matches!(method, "GET" | "HEAD") {
        let mut response = Response::text(405);
        response.allow = true;
        return response;
    }
    match resolve(root, target) {
        Resolved::File { path, content_type } => match fs::read(&path) {
            Ok(body) => Response {
                status: 200,
                content_type,
                body,
                location: None,
                allow: false,
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Response::text(404),
            Err(_) => Response::text(500),
        },
        Resolved::Redirect { location } => Response {
            location: Some(location),
            ..Response::text(302)
        },
        Resolved::NotFound => Response::text(404),
        Resolved::Forbidden => Response::text(403),
    }
}

fn push_header(head: &mut String, name: &str, value: &str) {
    head.push_str(name);
    head.push_str(": ");
    head.push_str(value);
    head.push_str("\r\n");
}

/// Writes status line, headers and (unless `send_body` is false, for HEAD)
/// the body. `Content-Length` is always the body's length.
fn write_response(out: &mut impl Write, response: &Response, send_body: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    push_header(&mut head, "Content-Type", response.content_type);
    push_header(&mut head, "Content-Length", &response.body.len().to_string());
    if let Some(location) = &response.location {
        push_header(&mut head, "Location", location);
    }
    if response.allow {
        push_header(&mut head, "Allow", "GET, HEAD");
    }
    head.push_str(COMMON_HEADERS);
    head.push_str("\r\n");

    let body: &[u8] = if send_body { &response.body } else { &[] };
    let mut bytes = Vec::with_capacity(head.len() + body.len());
    bytes.extend_from_slice(head.as_bytes());
    bytes.extend_from_slice(body);
    out.write_all(&bytes)?;
    out.flush()
}

/// Half-closes the connection and discards what the client still sends (a
/// request body, the rest of an oversized head) until it closes. Closing a
/// socket with unread input makes the kernel send RST, which can destroy the
/// response before the client has read it.
fn linger(stream: &mut TcpStream) {
    if stream.shutdown(Shutdown::Write).is_err() || stream.set_read_timeout(Some(LINGER_TIMEOUT)).is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let mut drained = 0;
    while drained < MAX_DRAIN {
        match stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(n) => drained += n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};

    /// A fresh directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let nanos = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let name = format!(
                "loopscope-serve-{tag}-{}-{}-{nanos}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            );
            let path = std::env::temp_dir().join(name);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const INDEX: &str = "<!doctype html><title>loopscope</title>\n";
    const WASM: &[u8] = b"\0asm\x01\0\0\0";

    /// `<tmp>/root/{index.html, www/{index.html, app.js}, pkg/app_bg.wasm,
    /// my file.txt}` plus `<tmp>/secret.txt` outside the root.
    fn fixture(tag: &str) -> (TempDir, PathBuf) {
        let dir = TempDir::new(tag);
        let root = dir.0.join("root");
        fs::create_dir_all(root.join("www")).unwrap();
        fs::create_dir_all(root.join("pkg")).unwrap();
        fs::write(root.join("index.html"), INDEX).unwrap();
        fs::write(root.join("www").join("index.html"), "www index").unwrap();
        fs::write(root.join("www").join("app.js"), "console.log(1);").unwrap();
        fs::write(root.join("pkg").join("app_bg.wasm"), WASM).unwrap();
        fs::write(root.join("my file.txt"), "spaced").unwrap();
        fs::write(dir.0.join("secret.txt"), "secret").unwrap();
        (dir, root)
    }

    fn file(root: &Path, relative: &str, content_type: &'static str) -> Resolved {
        Resolved::File {
            path: root.join(relative).canonicalize().unwrap(),
            content_type,
        }
    }

    #[test]
    fn resolve_maps_slash_to_index() {
        let (_dir, root) = fixture("index");
        let html = "text/html; charset=utf-8";
        assert_eq!(resolve(&root, "/"), file(&root, "index.html", html));
        assert_eq!(resolve(&root, "/?x=1"), file(&root, "index.html", html));
        assert_eq!(resolve(&root, "/www/"), file(&root, "www/index.html", html));
        assert_eq!(resolve(&root, "//www//"), file(&root, "www/index.html", html));
        assert_eq!(resolve(&root, "/index.html"), file(&root, "index.html", html));
    }

    #[test]
    fn resolve_strips_query_and_fragment() {
        let (_dir, root) = fixture("query");
        let js = file(&root, "www/app.js", "text/javascript; charset=utf-8");
        assert_eq!(resolve(&root, "/www/app.js"), js);
        assert_eq!(resolve(&root, "/www/app.js?x=1"), js);
        assert_eq!(resolve(&root, "/www/app.js#top"), js);
        assert_eq!(resolve(&root, "/www/app.js?x=1#top"), js);
        assert_eq!(resolve(&root, "/www/app.js?x=/../../etc"), js);
    }

    #[test]
    fn resolve_percent_decodes() {
        let (_dir, root) = fixture("decode");
        let txt = file(&root, "my file.txt", TEXT_PLAIN);
        assert_eq!(resolve(&root, "/my%20file.txt"), txt);
        assert_eq!(resolve(&root, "/my%20file%2Etxt"), txt);
        assert_eq!(
            resolve(&root, "/www%2fapp.js"),
            file(&root, "www/app.js", "text/javascript; charset=utf-8")
        );
        assert_eq!(resolve(&root, "/my+file.txt"), Resolved::NotFound);
        assert_eq!(resolve(&root, "/bad%zz"), Resolved::Forbidden);
        assert_eq!(resolve(&root, "/bad%2"), Resolved::Forbidden);
        assert_eq!(resolve(&root, "/bad%"), Resolved::Forbidden);
        assert_eq!(resolve(&root, "/bad%ff"), Resolved::Forbidden);
    }

    #[test]
    fn resolve_refuses_hidden_names() {
        let (_dir, root) = fixture("hidden");
        fs::create_dir_all(root.join(".git")).unwrap();
        fs::write(root.join(".git").join("config"), "[core]").unwrap();
        fs::write(root.join("www").join(".env"), "KEY=1").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join(".git").join("config"), root.join("config.txt")).unwrap();
        for target in ["/.git/config", "/www/.env", "/%2egit/config", "/./.git/config"] {
            assert_eq!(resolve(&root, target), Resolved::Forbidden, "{target}");
        }
        #[cfg(unix)]
        assert_eq!(
            resolve(&root, "/config.txt"),
            Resolved::Forbidden,
            "a symlink into .git"
        );
    }

    #[test]
    fn resolve_redirects_directory_without_slash() {
        let (_dir, root) = fixture("redirect");
        let redirect = |location: &str| Resolved::Redirect {
            location: location.to_owned(),
        };
        assert_eq!(resolve(&root, "/www"), redirect("/www/"));
        assert_eq!(resolve(&root, "/www?x=1#f"), redirect("/www/?x=1"));
    }

    #[test]
    fn resolve_rejects_traversal() {
        let (_dir, root) = fixture("traversal");
        for target in [
            "/../secret.txt",
            "/www/../index.html",
            "/www/../../secret.txt",
            "/..",
            "/%2e%2e/secret.txt",
            "/%2E%2E/secret.txt",
            "/%2e%2e%2fsecret.txt",
            "/.%2e/secret.txt",
            "/..\\secret.txt",
            "/%5c..%5csecret.txt",
            "/index.html%00",
            "/index.html%00.png",
            "index.html",
            "",
        ] {
            assert_eq!(resolve(&root, target), Resolved::Forbidden, "{target}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn resolve_rejects_symlink_out_of_root() {
        let (dir, root) = fixture("symlink");
        std::os::unix::fs::symlink(dir.0.join("secret.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink(&dir.0, root.join("up")).unwrap();
        assert_eq!(resolve(&root, "/link.txt"), Resolved::Forbidden);
        assert_eq!(resolve(&root, "/up/secret.txt"), Resolved::Forbidden);
    }

    #[test]
    fn resolve_missing_is_not_found() {
        let (_dir, root) = fixture("missing");
        assert_eq!(resolve(&root, "/missing.js"), Resolved::NotFound);
        assert_eq!(resolve(&root, "/nope/"), Resolved::NotFound);
        assert_eq!(resolve(&root, "/pkg/"), Resolved::NotFound);
        assert_eq!(resolve(&root, "/www/app.js/"), Resolved::NotFound);
        assert_eq!(resolve(&root.join("gone"), "/"), Resolved::NotFound);
    }

    #[test]
    fn content_types() {
        let cases = [
            ("index.html", "text/html; charset=utf-8"),
            ("INDEX.HTML", "text/html; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("worker.mjs", "text/javascript; charset=utf-8"),
            ("pkg/loopscope_bg.wasm", "application/wasm"),
            ("style.css", "text/css; charset=utf-8"),
            ("data.json", "application/json"),
            ("logo.png", "image/png"),
            ("logo.svg", "image/svg+xml"),
            ("favicon.ico", "image/x-icon"),
            ("trace.csv", "text/csv"),
            ("notes.txt", "text/plain; charset=utf-8"),
            ("README.md", "text/plain; charset=utf-8"),
            ("archive.tar.gz", "application/octet-stream"),
            ("Makefile", "application/octet-stream"),
            (".wasm", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            assert_eq!(content_type(Path::new(name)), expected, "{name}");
        }
    }

    #[test]
    fn percent_decode_cases() {
        assert_eq!(percent_decode("/a%20b").as_deref(), Some("/a b"));
        assert_eq!(percent_decode("/%C3%A9").as_deref(), Some("/é"));
        assert_eq!(percent_decode("/plain+").as_deref(), Some("/plain+"));
        assert_eq!(percent_decode("/%g0"), None);
        assert_eq!(percent_decode("/%a"), None);
        assert_eq!(percent_decode("/%c3"), None);
    }

    #[test]
    fn request_line_parsing() {
        fn parse(line: &str) -> Option<(&str, &str)> {
            parse_request_line(line.as_bytes())
        }
        assert_eq!(parse("GET / HTTP/1.1\r\n\r\n"), Some(("GET", "/")));
        assert_eq!(parse("HEAD /a?b HTTP/1.0\n\n"), Some(("HEAD", "/a?b")));
        assert_eq!(parse("POST /x HTTP/1.1\r\n\r\n"), Some(("POST", "/x")));
        assert_eq!(parse("GET / HTTP/2\r\n\r\n"), None);
        assert_eq!(parse("GET /\r\n\r\n"), None);
        assert_eq!(parse("GET  / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse("GET / HTTP/1.1 x\r\n\r\n"), None);
        assert_eq!(parse("GET http://h/ HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse("G(T / HTTP/1.1\r\n\r\n"), None);
        assert_eq!(parse("NONSENSE\r\n\r\n"), None);
    }

    #[test]
    fn head_reading() {
        let read = |bytes: &[u8]| {
            let mut reader = bytes;
            read_head(&mut reader).unwrap()
        };
        assert_eq!(
            read(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nbody"),
            Head::Complete(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec())
        );
        assert_eq!(
            read(b"GET / HTTP/1.1\n\n"),
            Head::Complete(b"GET / HTTP/1.1\n\n".to_vec())
        );
        assert_eq!(read(b""), Head::Empty);
        assert_eq!(read(b"GET / HTTP/1.1\r\n"), Head::Truncated);
        assert_eq!(read(&[b'a'; MAX_HEAD + 1]), Head::TooLarge);
        let mut exact = vec![b'a'; MAX_HEAD - 4];
        exact.extend_from_slice(b"\r\n\r\n");
        assert_eq!(read(&exact), Head::Complete(exact.clone()));
        exact.insert(0, b'a');
        assert_eq!(read(&exact), Head::TooLarge);
    }

    /// Status line, headers (names lower-cased) and body of one exchange.
    struct Reply {
        status: String,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Reply {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    fn exchange(addr: SocketAddr, request: &[u8]) -> Reply {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        stream.write_all(request).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let split = head_end(&raw).expect("response head");
        let head = String::from_utf8(raw[..split].to_vec()).unwrap();
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap().to_owned();
        let headers = lines
            .filter(|line| !line.is_empty())
            .map(|line| {
                let (name, value) = line.split_once(": ").unwrap();
                (name.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        Reply {
            status,
            headers,
            body: raw[split..].to_vec(),
        }
    }

    fn get(addr: SocketAddr, target: &str) -> Reply {
        let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\n\r\n");
        exchange(addr, request.as_bytes())
    }

    fn assert_common_headers(reply: &Reply) {
        let expected = [
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-embedder-policy", "require-corp"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
            ("connection", "close"),
        ];
        for (name, value) in expected {
            assert_eq!(reply.header(name), Some(value), "{name} on {}", reply.status);
        }
        let length = reply.header("content-length").expect("content-length");
        assert!(length.parse::<usize>().is_ok(), "{length}");
    }

    #[test]
    fn serves_over_tcp() {
        let (_dir, root) = fixture("tcp");
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server_root = root.clone();
        let _server = thread::spawn(move || serve(&server_root, listener));

        let index = get(addr, "/");
        assert_eq!(index.status, "HTTP/1.1 200 OK");
        assert_common_headers(&index);
        assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(index.body, INDEX.as_bytes());

        let wasm = get(addr, "/pkg/app_bg.wasm?v=2");
        assert_eq!(wasm.status, "HTTP/1.1 200 OK");
        assert_common_headers(&wasm);
        assert_eq!(wasm.header("content-type"), Some("application/wasm"));
        assert_eq!(wasm.header("content-length"), Some("8"));
        assert_eq!(wasm.body, WASM);

        let head = exchange(addr, b"HEAD /pkg/app_bg.wasm HTTP/1.1\r\n\r\n");
        assert_eq!(head.status, "HTTP/1.1 200 OK");
        assert_eq!(head.header("content-length"), Some("8"));
        assert!(head.body.is_empty());

        let post = exchange(
            addr,
            b"POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello",
        );
        assert_eq!(post.status, "HTTP/1.1 405 Method Not Allowed");
        assert_common_headers(&post);
        assert_eq!(post.header("allow"), Some("GET, HEAD"));

        for target in ["/../secret.txt", "/%2e%2e/secret.txt"] {
            let forbidden = get(addr, target);
            assert_eq!(forbidden.status, "HTTP/1.1 403 Forbidden", "{target}");
            assert_common_headers(&forbidden);
            assert!(!String::from_utf8_lossy(&forbidden.body).contains("secret"));
        }

        let missing = get(addr, "/missing.js");
        assert_eq!(missing.status, "HTTP/1.1 404 Not Found");
        assert_common_headers(&missing);
        assert_eq!(missing.body, b"404 Not Found\n");

        let redirect = get(addr, "/www");
        assert_eq!(redirect.status, "HTTP/1.1 302 Found");
        assert_eq!(redirect.header("location"), Some("/www/"));

        let bad = exchange(addr, b"NONSENSE\r\n\r\n");
        assert_eq!(bad.status, "HTTP/1.1 400 Bad Request");
        assert_common_headers(&bad);

        let mut huge = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        huge.resize(huge.len() + MAX_HEAD + 100, b'a');
        huge.extend_from_slice(b"\r\n\r\n");
        let too_large = exchange(addr, &huge);
        assert_eq!(too_large.status, "HTTP/1.1 431 Request Header Fields Too Large");

        // A client that connects and leaves must not take the server down.
        drop(TcpStream::connect(addr).unwrap());
        assert_eq!(get(addr, "/").status, "HTTP/1.1 200 OK");
    }
}
