//! SVG plots of a day over time, Legacy against Improved (plotters, SVG
//! backend only: no font or system dependencies).

use crate::report::{Pick, Series};
use plotters::prelude::*;

/// The four panels, each summed per ten minutes.
const PANELS: [(&str, Pick); 4] = [
    ("upstream requests per 10 min", |s| &s.requests),
    ("connection-excess answers per 10 min", |s| {
        &s.connection_excess
    }),
    ("blocked CS-minutes per 10 min", |s| &s.blocked_cs_minutes),
    ("inconsistent cards per 10 min", |s| &s.inconsistencies),
];

/// Ten-minute sums as (hour of day, value) points; minute 0 is 08:00.
fn per_10min(minutes: &[f64]) -> Vec<(f64, f64)> {
    minutes
        .chunks(10)
        .enumerate()
        .map(|(i, c)| (8.0 + i as f64 / 6.0, c.iter().sum()))
        .collect()
}

/// Draws `legacy` and `improved` (mean days) as one SVG document.
pub fn day_svg(title: &str, legacy: &Series, improved: &Series) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (900, 1000)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let root = root
            .titled(title, ("sans-serif", 20))
            .map_err(|e| e.to_string())?;
        for (area, (caption, series)) in root.split_evenly((4, 1)).iter().zip(PANELS) {
            draw_panel(area, caption, series(legacy), series(improved))
                .map_err(|e| format!("drawing {caption}: {e}"))?;
        }
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

fn draw_panel(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    caption: &str,
    legacy: &[f64],
    improved: &[f64],
) -> Result<(), String> {
    let legacy = per_10min(legacy);
    let improved = per_10min(improved);
    let top = legacy
        .iter()
        .chain(&improved)
        .map(|p| p.1)
        .fold(1.0, f64::max)
        * 1.1;
    let end = 8.0 + legacy.len() as f64 / 6.0;
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(60)
        .build_cartesian_2d(8.0..end, 0.0..top)
        .map_err(text)?;
    chart
        .configure_mesh()
        .x_desc("hour of day")
        .x_label_formatter(&|h| {
            format!(
                "{:02}:{:02}",
                *h as u32,
                ((h.fract()) * 60.0).round() as u32
            )
        })
        .draw()
        .map_err(text)?;
    for (points, label, color) in [
        (legacy, "legacy rule", RED),
        (improved, "improved rule", BLUE),
    ] {
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))
            .map_err(text)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(text)?;
    Ok(())
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}
