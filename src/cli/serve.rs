//! A small static file server for the simulator's web page (`loopscope serve`).
//!
//! The HTTP is tiny_http's; what is loopscope's own is which file a request may see
//! ([`resolve`]: nothing outside the root, no hidden names, no symlink out) and the
//! headers every response carries: the cross-origin isolation trio (COOP, COEP, CORP),
//! so the page may use `SharedArrayBuffer` and `Atomics.wait`, and `Cache-Control:
//! no-store`, so a rebuilt wasm module is always picked up. For local use, not for the
//! open internet.

use loopscope::view::link::percent_decode;
use std::fs;
use std::io;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

/// Headers sent with every response.
const COMMON_HEADERS: [(&str, &str); 5] = [
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cross-Origin-Embedder-Policy", "require-corp"),
    ("Cross-Origin-Resource-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
];

const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// Threads answering requests (the page loads its script, style and wasm at once).
const THREADS: usize = 4;

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
/// The caller binds the listener (and can print its address). Fails only if `root` is
/// not an existing directory or the listener cannot be used. Logs one line per request,
/// e.g. `GET /www/main.js 200` (method, target, status).
pub fn serve(root: &Path, listener: TcpListener) -> io::Result<()> {
    let root = root.canonicalize()?;
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a directory: {}", root.display()),
        ));
    }
    let server = Arc::new(Server::from_listener(listener, None).map_err(io::Error::other)?);
    let root = Arc::new(root);
    let workers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (server, root) = (Arc::clone(&server), Arc::clone(&root));
            thread::spawn(move || {
                for request in server.incoming_requests() {
                    answer(&root, request);
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.join();
    }
    Ok(())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// Answers one request: a file, a redirect, or a short plain-text error.
fn answer(root: &Path, request: Request) {
    let target = request.url().to_string();
    let method = request.method().clone();
    let (status, body, content_type, extra) = match method {
        Method::Get | Method::Head => match resolve(root, &target) {
            Resolved::File { path, content_type } => match fs::read(&path) {
                Ok(bytes) => (200, bytes, content_type, None),
                Err(_) => (404, b"404 Not Found\n".to_vec(), TEXT_PLAIN, None),
            },
            Resolved::Redirect { location } => (302, Vec::new(), TEXT_PLAIN, Some(("Location", location))),
            Resolved::NotFound => (404, b"404 Not Found\n".to_vec(), TEXT_PLAIN, None),
            Resolved::Forbidden => (403, b"403 Forbidden\n".to_vec(), TEXT_PLAIN, None),
        },
        _ => (
            405,
            b"405 Method Not Allowed\n".to_vec(),
            TEXT_PLAIN,
            Some(("Allow", "GET, HEAD".to_string())),
        ),
    };
    println!("{method} {target} {status}");
    let mut response = Response::from_data(body)
        .with_status_code(StatusCode(status))
        .with_header(header("Content-Type", content_type));
    for (name, value) in COMMON_HEADERS {
        response.add_header(header(name, value));
    }
    if let Some((name, value)) = extra {
        response.add_header(header(name, &value));
    }
    // tiny_http leaves the body out of a HEAD response by itself.
    if let Err(e) = request.respond(response) {
        eprintln!("serve: {method} {target}: could not answer: {e}");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
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
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("response head")
            + 4;
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
        let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        exchange(addr, request.as_bytes())
    }

    fn assert_common_headers(reply: &Reply) {
        let expected = [
            ("cross-origin-opener-policy", "same-origin"),
            ("cross-origin-embedder-policy", "require-corp"),
            ("cross-origin-resource-policy", "same-origin"),
            ("cache-control", "no-store"),
            ("x-content-type-options", "nosniff"),
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

        let head = exchange(
            addr,
            b"HEAD /pkg/app_bg.wasm HTTP/1.1\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(head.status, "HTTP/1.1 200 OK");
        assert_eq!(head.header("content-length"), Some("8"));
        assert!(head.body.is_empty());

        let post = exchange(
            addr,
            b"POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
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

        // A client that connects and leaves must not take the server down.
        drop(TcpStream::connect(addr).unwrap());
        assert_eq!(get(addr, "/").status, "HTTP/1.1 200 OK");
    }
}
