//! `loopscope dist`: the served page as one self-contained file a teacher can carry and
//! double-click: the stylesheet, the wasm glue, the module (base64) and the bootstrap
//! inlined into index.html. Nothing else is fetched; the page's workers start from blob
//! URLs of the glue it carries. The served page and the file come from the same
//! sources: this only inlines them.

use std::fs;
use std::io;
use std::path::Path;

use base64::Engine as _;

/// A tag of index.html and what replaces it.
struct Inline<'a> {
    tag: &'a str,
    with: String,
}

/// Inlined text may not close the element it sits in.
fn safe_in(element: &str, text: &str) -> String {
    text.replace(&format!("</{element}"), &format!("<\\/{element}"))
}

/// Writes `out` from the page under `root` (index.html, www/, and www/pkg from
/// `make web`); returns its size in bytes.
pub fn dist(root: &Path, out: &Path) -> io::Result<u64> {
    let read = |path: &str| {
        fs::read_to_string(root.join(path)).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{path}: {e} (run `make web` first: `make dist` does)"),
            )
        })
    };
    let wasm = fs::read(root.join("www/pkg/loopscope_bg.wasm")).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("www/pkg/loopscope_bg.wasm: {e} (run `make web` first: `make dist` does)"),
        )
    })?;
    let mut page = read("index.html")?;
    let inlines = [
        Inline {
            tag: r#"<link rel="stylesheet" href="www/style.css">"#,
            with: format!("<style>\n{}\n</style>", safe_in("style", &read("www/style.css")?)),
        },
        Inline {
            tag: r#"<script id="loopscope-glue" src="www/pkg/loopscope.js"></script>"#,
            with: format!(
                "<script id=\"loopscope-glue\">\n{}\n</script>\n<script id=\"loopscope-wasm\" type=\"application/octet-stream\">{}</script>",
                safe_in("script", &read("www/pkg/loopscope.js")?),
                base64::engine::general_purpose::STANDARD.encode(&wasm)
            ),
        },
        Inline {
            tag: r#"<script src="www/main.js"></script>"#,
            with: format!("<script>\n{}\n</script>", safe_in("script", &read("www/main.js")?)),
        },
    ];
    for inline in inlines {
        if !page.contains(inline.tag) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("index.html has no `{}` to inline", inline.tag),
            ));
        }
        page = page.replacen(inline.tag, &inline.with, 1);
    }
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(out, &page)?;
    Ok(page.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_the_page_loads_is_inlined() {
        let dir = std::env::temp_dir().join(format!("loopscope-dist-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("www/pkg")).unwrap();
        fs::write(
            dir.join("index.html"),
            "<head><link rel=\"stylesheet\" href=\"www/style.css\"></head><body>\n\
             <script id=\"loopscope-glue\" src=\"www/pkg/loopscope.js\"></script>\n\
             <script src=\"www/main.js\"></script></body>",
        )
        .unwrap();
        fs::write(dir.join("www/style.css"), "body { color: red; }").unwrap();
        fs::write(
            dir.join("www/pkg/loopscope.js"),
            "let wasm_bindgen = 1; // '</script>'",
        )
        .unwrap();
        fs::write(dir.join("www/pkg/loopscope_bg.wasm"), b"\0asm\x01\0\0\0").unwrap();
        fs::write(dir.join("www/main.js"), "start();").unwrap();
        let out = dir.join("dist/loopscope.html");
        let size = dist(&dir, &out).unwrap();
        let page = fs::read_to_string(&out).unwrap();
        assert_eq!(size, page.len() as u64);
        assert!(page.contains("<style>\nbody { color: red; }\n</style>"));
        assert!(page.contains("let wasm_bindgen = 1; // '<\\/script>'"), "{page}");
        assert!(page.contains(
            "<script id=\"loopscope-wasm\" type=\"application/octet-stream\">AGFzbQEAAAA=</script>"
        ));
        assert!(page.contains("<script>\nstart();\n</script>"));
        assert!(!page.contains("src=\"www/"), "nothing left to fetch: {page}");
        // A page without the tags says which is missing.
        fs::write(dir.join("index.html"), "<body></body>").unwrap();
        let e = dist(&dir, &out).unwrap_err();
        assert!(e.to_string().contains("www/style.css"), "{e}");
        fs::remove_file(dir.join("www/main.js")).unwrap();
        assert!(dist(&dir, &out).unwrap_err().to_string().contains("make web"));
        let _ = fs::remove_dir_all(&dir);
    }
}
