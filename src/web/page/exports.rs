//! Exports: the report as JSON, the requests as CSV, the timelines as one PNG.

use super::{App, Res};
use loopscope::fidelity::Fidelity;
use loopscope::model::{Report, Variant};
use loopscope::view::{export, link};
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Document, HtmlCanvasElement};

/// A measured endpoint: its prediction, its measurement and the check of one against
/// the other.
pub(super) type Measured = (Variant, Rc<Report>, Rc<Report>, Rc<Fidelity>);

impl App {
    pub(super) fn results(&self) -> Vec<Measured> {
        self.sections
            .borrow()
            .iter()
            .filter_map(|s| {
                let m = s.measured.borrow().clone()?;
                let p = s.predicted.borrow().clone();
                let f = s.check()?;
                Some((s.variant, p, m, f))
            })
            .collect()
    }

    pub(super) fn export_json(&self) -> Res {
        let settings = self.settings.borrow();
        let runs: Vec<serde_json::Value> = self
            .results()
            .into_iter()
            .map(|(v, p, m, f)| serde_json::json!({ "variant": v, "predicted": *p, "measured": *m, "fidelity": *f }))
            .collect();
        let doc = serde_json::json!({
            "generated_by": "loopscope",
            "link": link::to_hash(&settings, &self.view.borrow()),
            "time_scale": settings.scale,
            "runs": runs,
        });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| JsValue::from_str(&e.to_string()))?;
        download(&self.doc, "loopscope-report.json", "application/json", &text)
    }

    pub(super) fn export_csv(&self) -> Res {
        let results = self.results();
        let reports: Vec<&Report> = results.iter().flat_map(|(_, p, m, _)| [&**p, &**m]).collect();
        download(
            &self.doc,
            "loopscope-requests.csv",
            "text/csv",
            &export::requests_csv(&reports, self.settings.borrow().scale),
        )
    }

    /// The timelines on the page stacked in one PNG, each under its endpoint's name and
    /// its numbers on the axis's clock (the tutorial's time), drawn whole: no replay
    /// cursor, no grey veil. Endpoints hidden from the page are left out.
    pub(super) fn export_png(&self) -> Res {
        // Paint the whole runs for the image, then the moment shown again.
        self.exporting.set(true);
        self.paint_all();
        let image = self.timelines_png();
        self.exporting.set(false);
        self.paint_all();
        click_download(&self.doc, "loopscope-timelines.png", &image?)
    }

    fn timelines_png(&self) -> Res<String> {
        let sections = self.drawn_sections();
        let scale = self.settings.borrow().scale;
        let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
        let title_h = 22.0 * dpr;
        let width = sections.iter().map(|s| s.canvas.width()).max().unwrap_or(800) as f64;
        let height: f64 = sections.iter().map(|s| s.canvas.height() as f64 + title_h).sum();
        let out: HtmlCanvasElement = self.doc.create_element("canvas")?.dyn_into()?;
        out.set_width(width as u32);
        out.set_height(height.max(1.0) as u32);
        let ctx: web_sys::CanvasRenderingContext2d =
            out.get_context("2d")?.ok_or("no 2d context")?.dyn_into()?;
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, width, height);
        let mut y = 0.0;
        for s in sections.iter() {
            ctx.set_fill_style_str("#1b1b1b");
            ctx.set_font(&format!("bold {}px system-ui, sans-serif", 14.0 * dpr));
            ctx.fill_text(
                &export::png_title(
                    s.variant,
                    &s.predicted.borrow(),
                    s.measured.borrow().as_deref(),
                    scale,
                ),
                8.0 * dpr,
                y + 16.0 * dpr,
            )?;
            y += title_h;
            ctx.draw_image_with_html_canvas_element(&s.canvas, 0.0, y)?;
            y += s.canvas.height() as f64;
        }
        out.to_data_url_with_type("image/png")
    }
}

fn click_download(doc: &Document, name: &str, href: &str) -> Res {
    let a: web_sys::HtmlAnchorElement = doc.create_element("a")?.dyn_into()?;
    a.set_href(href);
    a.set_download(name);
    a.click();
    Ok(())
}

pub(super) fn download(doc: &Document, name: &str, mime: &str, text: &str) -> Res {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    click_download(doc, name, &url)?;
    web_sys::Url::revoke_object_url(&url)
}
