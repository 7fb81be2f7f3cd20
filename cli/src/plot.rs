//! `--plot FILE.svg` or `FILE.png`: the run's convergence over time, drawn with plotters.
//!
//! Top: the fraction of each group's participants that hold the owner's view (mean over
//! groups). Bottom: stanzas delivered and dropped so far.
//!
//! The format is the file's extension: SVG through plotters' SVG backend, PNG through its
//! bitmap backend. The bitmap backend draws text with ab_glyph from a font registered here
//! (DejaVu Sans, embedded), so no system font library is needed.

use std::path::Path;

use plotters::prelude::*;

use kgroup_sim::SimReport;

const SIZE: (u32, u32) = (900, 640);

/// What `--plot` writes, from the file's extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Svg,
    Png,
}

impl Format {
    /// The format a path names, or a one-line refusal that says which names work.
    pub fn of(path: &Path) -> Result<Format, String> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("svg") {
            Ok(Format::Svg)
        } else if ext.eq_ignore_ascii_case("png") {
            Ok(Format::Png)
        } else {
            Err(format!(
                "--plot {}: the format is the file's extension, .svg or .png",
                path.display()
            ))
        }
    }
}

/// Writes the plot in `format`; errors are plotters' or the file system's, as text.
pub fn write(report: &SimReport, path: &Path, format: Format) -> Result<(), String> {
    // Both backends lay text out with the registered font.
    register_font()?;
    match format {
        Format::Svg => {
            let root = SVGBackend::new(path, SIZE).into_drawing_area();
            draw(report, &root).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())
        }
        Format::Png => {
            let root = BitMapBackend::new(path, SIZE).into_drawing_area();
            draw(report, &root).map_err(|e| e.to_string())?;
            root.present().map_err(|e| e.to_string())
        }
    }
}

/// Text is measured and drawn with a registered font: the embedded DejaVu Sans, as
/// `sans-serif` (the family the charts ask for).
fn register_font() -> Result<(), String> {
    plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
        .map_err(|_| "the embedded font could not be read".to_string())
}

fn draw<DB: DrawingBackend>(
    report: &SimReport,
    root: &DrawingArea<DB, plotters::coord::Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let (top, bottom) = root.split_vertically(340);
    let samples = &report.samples;
    // A lossy run may retransmit to a silent client for minutes after everything else has
    // settled: draw the workload, 99% of the deliveries and the last change of agreement,
    // and say how long the nearly flat tail is.
    let end = samples.last().map_or(1, |s| s.t_ms.max(1));
    let final_delivered = samples.last().map_or(0, |s| s.delivered);
    let mostly_delivered = samples
        .iter()
        .find(|s| s.delivered * 100 >= final_delivered * 99)
        .map_or(end, |s| s.t_ms);
    let last_agreement_change = samples
        .windows(2)
        .filter(|w| w[0].agreement != w[1].agreement)
        .map(|w| w[1].t_ms)
        .max()
        .unwrap_or(0);
    let last_change = mostly_delivered
        .max(last_agreement_change)
        .max(report.config.duration_ms);
    let shown = ((last_change as f64 * 1.15) as u64).clamp(1, end);
    let samples: Vec<_> = samples.iter().filter(|s| s.t_ms <= shown).collect();
    let t_max = shown as f64 / 1000.0;
    let tail = if shown < end {
        format!("; flat until {:.0} s", end as f64 / 1000.0)
    } else {
        String::new()
    };
    let title = format!(
        "{} dialect, {} clients, groups of {}, loss {}, seed {}{tail}",
        report.dialect.as_str(),
        report.config.clients,
        report.config.members,
        report.config.loss,
        report.seed
    );
    let mut chart = ChartBuilder::on(&top)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..t_max, 0.0..1.05)?;
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .y_desc("members in agreement")
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            samples
                .iter()
                .map(|s| (s.t_ms as f64 / 1000.0, s.agreement)),
            &BLUE,
        ))?
        .label("agreement with the owner's view")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::LowerRight)
        .draw()?;

    let y_max = samples
        .iter()
        .map(|s| s.delivered.max(s.dropped))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut chart = ChartBuilder::on(&bottom)
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max * 1.05)?;
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .y_desc("stanza copies")
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            samples
                .iter()
                .map(|s| (s.t_ms as f64 / 1000.0, s.delivered as f64)),
            &GREEN,
        ))?
        .label("delivered")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN));
    chart
        .draw_series(LineSeries::new(
            samples
                .iter()
                .map(|s| (s.t_ms as f64 / 1000.0, s.dropped as f64)),
            &RED,
        ))?
        .label("dropped")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
    Ok(())
}
