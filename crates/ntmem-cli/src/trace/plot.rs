//! The miss-ratio curve as SVG (plotters, its SVG backend only): faults per 1000 references
//! against frames on a log2 axis, one line per policy.

use super::sweep::Point;
use super::PolicyName;
use anyhow::Context;
use plotters::prelude::*;

const COLOURS: [RGBColor; 5] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
];

pub(crate) fn miss_ratio_curve(
    path: &std::path::Path,
    points: &[Point],
    policies: &[PolicyName],
    title: &str,
) -> anyhow::Result<()> {
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
        root.fill(&WHITE)?;
        let min_f = points.iter().map(|p| p.frames).min().unwrap_or(1).max(1) as f64;
        let max_f = points.iter().map(|p| p.frames).max().unwrap_or(2).max(2) as f64;
        let max_y = points.iter().map(Point::per_thousand).fold(0.0, f64::max).max(1e-3) * 1.05;
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Miss-ratio curve: {title}"), ("sans-serif", 20))
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((min_f..max_f).log_scale(), 0.0..max_y)?;
        chart
            .configure_mesh()
            .x_desc("frames (the trace's pages resident at once)")
            .y_desc("faults per 1000 references")
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()?;
        for (k, p) in policies.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            let line: Vec<(f64, f64)> =
                points.iter().filter(|x| x.policy == *p).map(|x| (x.frames as f64, x.per_thousand())).collect();
            chart
                .draw_series(LineSeries::new(line.clone(), colour.stroke_width(2)))?
                .label(p.name())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2)));
            chart.draw_series(line.into_iter().map(|(x, y)| Circle::new((x, y), 3, colour.filled())))?;
        }
        chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow::anyhow!("{e}")).with_context(|| format!("writing {}", path.display()))
}
