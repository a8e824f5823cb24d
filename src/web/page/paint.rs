//! Draws a [`Layout`] on a canvas. Colours follow the Okabe–Ito palette (as in
//! www/style.css) and every phase has a texture too, so none is told by colour alone.
//! Fill styles are set once per shape kind, in the order the layout gives.

use loopscope::view::timeline::{Hit, Layout, Shape, Style};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasPattern, CanvasRenderingContext2d, HtmlCanvasElement};

fn colour(style: Style) -> &'static str {
    match style {
        Style::Queued => "#6b6b6b",
        // Colour says where a step runs, texture what it is: a fetch is hatched; on a
        // pool thread the pool's green, on the loop the loop's vermilion, awaited (no
        // thread held) pale sky blue.
        Style::Io { blocking: false } => "#56b4e9",
        Style::Io { blocking: true } => "#009e73",
        Style::IoOnLoop => "#d55e00",
        Style::CpuLoop | Style::Stall => "#d55e00",
        Style::ProbeStall => "rgba(230,159,0,0.45)",
        Style::Note => "#555555",
        // Hides what comes after a replay's moment, so the replay does not tell it: the
        // card's own white, opaque (a fade would look like the model's faint layer).
        Style::Veil => "#fff",
        Style::CpuPool | Style::LoopGilWait => "#009e73",
        // Ready to compute but not holding the GIL: the pool's green, pale.
        Style::GilWait => "#c7ebdf",
        Style::CpuProcess => "#f0e442",
        Style::Background => "#cc79a7",
        Style::Response => "#000000",
        Style::ErrorResponse => "#c80000",
        Style::LagLine => "#e69f00",
        Style::Axis => "#444444",
        Style::Grid => "#e6e6e2",
        Style::Label | Style::LaneLabel => "#333333",
        Style::LabelOnDark => "#ffffff",
        Style::Now => "#000000",
    }
}

/// An 8×8 tile: `base` with light marks (diagonal for I/O, vertical for pool work,
/// dots for background).
fn pattern(ctx: &CanvasRenderingContext2d, style: Style) -> Option<CanvasPattern> {
    let document = web_sys::window()?.document()?;
    let tile: HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    tile.set_width(8);
    tile.set_height(8);
    let t: CanvasRenderingContext2d = tile.get_context("2d").ok()??.dyn_into().ok()?;
    t.set_fill_style_str(colour(style));
    t.fill_rect(0.0, 0.0, 8.0, 8.0);
    t.set_stroke_style_str("rgba(255,255,255,0.55)");
    t.set_fill_style_str("rgba(255,255,255,0.8)");
    t.set_line_width(2.0);
    t.begin_path();
    match style {
        // A stall: the vermilion of the work that causes it, crossed with dark
        // stripes, a roadblock: the loop can do nothing else.
        Style::Stall => {
            t.set_stroke_style_str("rgba(0,0,0,0.55)");
            t.set_line_width(2.5);
            t.move_to(-2.0, 2.0);
            t.line_to(2.0, -2.0);
            t.move_to(-2.0, 10.0);
            t.line_to(10.0, -2.0);
            t.move_to(6.0, 10.0);
            t.line_to(10.0, 6.0);
            t.stroke();
        }
        Style::Io { .. } | Style::IoOnLoop => {
            // Wide pale stripes: awaited (blue, no thread held), or time.sleep on a pool
            // thread (green, lighter than the inference's solid green beside it); thin
            // ones, solid: time.sleep on the event loop.
            if style != Style::IoOnLoop {
                t.set_stroke_style_str("rgba(255,255,255,0.8)");
                t.set_line_width(3.5);
            }
            t.move_to(-2.0, 10.0);
            t.line_to(10.0, -2.0);
            t.move_to(6.0, 10.0);
            t.line_to(10.0, 6.0);
            t.stroke();
        }
        Style::CpuPool => {
            t.move_to(6.0, 0.0);
            t.line_to(6.0, 8.0);
            t.stroke();
        }
        Style::Background => {
            t.arc(4.0, 4.0, 1.3, 0.0, std::f64::consts::TAU).ok()?;
            t.fill();
        }
        // Waiting for the GIL: pale, with the pool's green in dashes.
        Style::GilWait => {
            t.set_stroke_style_str("#009e73");
            t.set_line_width(1.5);
            t.move_to(0.0, 4.0);
            t.line_to(4.0, 4.0);
            t.stroke();
        }
        // The loop waiting for the GIL: the green of the threads holding it, hatched
        // like a stall.
        Style::LoopGilWait => {
            t.set_stroke_style_str("rgba(0,0,0,0.5)");
            t.set_line_width(2.0);
            t.move_to(-2.0, 10.0);
            t.line_to(10.0, -2.0);
            t.stroke();
        }
        // In a process of its own: horizontal rules.
        Style::CpuProcess => {
            t.set_stroke_style_str("rgba(0,0,0,0.35)");
            t.set_line_width(1.5);
            t.move_to(0.0, 6.0);
            t.line_to(8.0, 6.0);
            t.stroke();
        }
        _ => return None,
    }
    ctx.create_pattern_with_html_canvas_element(&tile, "repeat")
        .ok()?
}

pub struct Painter {
    ctx: CanvasRenderingContext2d,
    patterns: Vec<(Style, CanvasPattern)>,
}

impl Painter {
    pub fn new(canvas: &HtmlCanvasElement) -> Result<Painter, JsValue> {
        let ctx: CanvasRenderingContext2d = canvas.get_context("2d")?.ok_or("no 2d context")?.dyn_into()?;
        let patterns = [
            Style::Stall,
            Style::Io { blocking: false },
            Style::Io { blocking: true },
            Style::IoOnLoop,
            Style::CpuPool,
            Style::Background,
            Style::GilWait,
            Style::LoopGilWait,
            Style::CpuProcess,
        ]
        .into_iter()
        .filter_map(|s| pattern(&ctx, s).map(|p| (s, p)))
        .collect();
        Ok(Painter { ctx, patterns })
    }

    fn fill(&self, style: Style, ghost: bool) {
        let pattern = self.patterns.iter().find(|(s, _)| *s == style).map(|(_, p)| p);
        match pattern {
            Some(p) if !ghost => self.ctx.set_fill_style_canvas_pattern(p),
            _ => self.ctx.set_fill_style_str(colour(style)),
        }
    }

    /// Sizes the canvas for the device's pixel ratio and draws `layout`, with an
    /// outline round the focused hit.
    pub fn paint(&self, canvas: &HtmlCanvasElement, layout: &Layout, focused: Option<&Hit>) {
        let dpr = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
        let (w, h) = (
            (layout.width * dpr).round() as u32,
            (layout.height * dpr).round() as u32,
        );
        if canvas.width() != w || canvas.height() != h {
            canvas.set_width(w);
            canvas.set_height(h);
            let _ = canvas
                .style()
                .set_property("height", &format!("{}px", layout.height));
        }
        let ctx = &self.ctx;
        let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
        ctx.clear_rect(0.0, 0.0, layout.width, layout.height);
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, layout.width, layout.height);
        let mut current: Option<(Style, bool)> = None;
        for shape in &layout.shapes {
            match shape {
                Shape::Rect {
                    x,
                    y,
                    w,
                    h,
                    style,
                    ghost,
                } => {
                    ctx.set_global_alpha(if *ghost { 0.32 } else { 1.0 });
                    if *style == Style::Queued {
                        // Hollow: a wait holds nothing.
                        ctx.set_stroke_style_str(colour(*style));
                        ctx.set_line_width(1.0);
                        if *ghost {
                            ctx.set_fill_style_str("#9a9a9a");
                            ctx.fill_rect(*x, *y, *w, *h);
                        } else {
                            // Light grey inside a dashed edge, as the legend has it.
                            ctx.set_fill_style_str("#ececec");
                            ctx.fill_rect(*x, *y, *w, *h);
                            let _ = ctx.set_line_dash(&js_sys::Array::of2(&3.0.into(), &2.0.into()));
                            ctx.stroke_rect(x + 0.5, y + 0.5, (w - 1.0).max(0.5), (h - 1.0).max(0.5));
                            let _ = ctx.set_line_dash(&js_sys::Array::new());
                        }
                        current = None;
                        continue;
                    }
                    if current != Some((*style, *ghost)) {
                        self.fill(*style, *ghost);
                        current = Some((*style, *ghost));
                    }
                    ctx.fill_rect(*x, *y, *w, *h);
                }
                Shape::Cells { style, alpha, rects } => {
                    // Merged lanes: plain colours (a texture does not read in a 3 px
                    // row), a wait light grey.
                    ctx.set_global_alpha(*alpha);
                    ctx.set_fill_style_str(match style {
                        Style::Queued => "#b4b4b4",
                        s => colour(*s),
                    });
                    for [x, y, w, h] in rects {
                        ctx.fill_rect(*x, *y, *w, *h);
                    }
                    current = None;
                }
                Shape::Text {
                    x,
                    y,
                    text,
                    style,
                    right,
                } => {
                    ctx.set_global_alpha(1.0);
                    let px = layout.text_px;
                    ctx.set_font(&match style {
                        Style::LabelOnDark => format!("bold {px}px system-ui, sans-serif"),
                        Style::LaneLabel => format!(
                            "{}px system-ui, sans-serif",
                            loopscope::view::timeline::lane_label_px(px)
                        ),
                        Style::Axis | Style::Note => format!("{}px system-ui, sans-serif", px - 1.0),
                        _ => format!("{px}px system-ui, sans-serif"),
                    });
                    ctx.set_text_align(if *right { "right" } else { "left" });
                    ctx.set_fill_style_str(colour(*style));
                    if *style == Style::LabelOnDark {
                        // A dark plate under the words, so the stall's stripes and the
                        // answers' ticks drawn on the bar do not cross them.
                        if let Ok(m) = ctx.measure_text(text) {
                            let w = m.width() + 8.0;
                            let left = if *right { *x - w + 4.0 } else { *x - 4.0 };
                            ctx.set_fill_style_str("rgba(40,20,10,0.85)");
                            ctx.fill_rect(left, *y - px * 0.95, w, px * 1.3);
                            ctx.set_fill_style_str(colour(*style));
                        }
                    }
                    let _ = ctx.fill_text(text, *x, *y);
                    ctx.set_shadow_blur(0.0);
                    ctx.set_shadow_color("rgba(0,0,0,0)");
                    current = None;
                }
                Shape::Line { points, style } => {
                    ctx.set_global_alpha(1.0);
                    ctx.set_stroke_style_str(colour(*style));
                    ctx.set_line_width(match style {
                        Style::LagLine => 1.5,
                        Style::Now => 1.5,
                        _ => 1.0,
                    });
                    if *style == Style::Now {
                        let _ = ctx.set_line_dash(&js_sys::Array::of2(&4.0.into(), &3.0.into()));
                    }
                    ctx.begin_path();
                    for (i, (px, py)) in points.iter().enumerate() {
                        if i == 0 {
                            ctx.move_to(*px, *py);
                        } else {
                            ctx.line_to(*px, *py);
                        }
                    }
                    ctx.stroke();
                    let _ = ctx.set_line_dash(&js_sys::Array::new());
                }
            }
        }
        ctx.set_global_alpha(1.0);
        if let Some(hit) = focused {
            ctx.set_stroke_style_str("#0050c8");
            ctx.set_line_width(3.0);
            ctx.stroke_rect(hit.x - 2.0, hit.y - 2.0, hit.w + 4.0, hit.h + 4.0);
        }
    }
}
