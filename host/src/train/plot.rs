//! PNG of a run's curves: loss and error against epoch. The font is embedded
//! (DejaVu Sans, see `host/assets/`), so plots render the same on machines
//! without system fonts.

use super::metrics::EpochRow;
use crate::error::{HostError, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

const SIZE: (u32, u32) = (1000, 400);
const GREEN: RGBColor = RGBColor(0, 150, 0);

type DrawResult<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// One line of a panel: legend name, colour, (epoch, value) points.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn register() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Only fails for an unparsable font, and this one is compiled in (the
        // test draws text with it).
        let _ = register_font("sans-serif", FontStyle::Normal, FONT);
    });
}

/// Smallest and largest of `values`, or `None` if none is finite.
fn bounds(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.filter(|v| v.is_finite()).fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// The corner of the plot the legend hides least data in, and how many
/// samples of the lines it hides there. Works in fractions of the plotting
/// area: `boxed` is the legend's (width, height) with a margin, `points` the
/// series' points already scaled to 0..1.
fn legend_corner(points: &[Vec<(f64, f64)>], boxed: (f64, f64)) -> (usize, SeriesLabelPosition) {
    // Points along the lines, not just at the epochs, so a line crossing a
    // corner counts too.
    let mut samples = Vec::new();
    for line in points {
        samples.extend(line.first().filter(|_| line.len() == 1));
        for w in line.windows(2) {
            let ((x0, y0), (x1, y1)) = (w[0], w[1]);
            samples.extend((0..=8).map(|i| f64::from(i) / 8.0).map(|t| (x0 + t * (x1 - x0), y0 + t * (y1 - y0))));
        }
    }
    let (w, h) = boxed;
    [
        (SeriesLabelPosition::UpperRight, (1.0 - w, 1.0), (1.0 - h, 1.0)),
        (SeriesLabelPosition::LowerLeft, (0.0, w), (0.0, h)),
        (SeriesLabelPosition::UpperLeft, (0.0, w), (1.0 - h, 1.0)),
        (SeriesLabelPosition::LowerRight, (1.0 - w, 1.0), (0.0, h)),
    ]
    .into_iter()
    .map(|(corner, xs, ys)| {
        let hidden = samples.iter().filter(|&&(x, y)| (xs.0..=xs.1).contains(&x) && (ys.0..=ys.1).contains(&y)).count();
        (hidden, corner)
    })
    // `min_by_key` keeps the first of equals, so ties go to the upper right.
    .min_by_key(|&(hidden, _)| hidden)
    .unwrap_or((0, SeriesLabelPosition::UpperRight))
}

fn panel(
    area: &DrawingArea<BitMapBackend<'_>, Shift>,
    caption: &str,
    y_desc: &str,
    epochs: (f64, f64),
    series: &[Series<'_>],
) -> DrawResult<()> {
    let lines: Vec<Vec<(f64, f64)>> =
        series.iter().map(|s| s.2.iter().copied().filter(|p| p.1.is_finite()).collect()).collect();
    let (y_lo, y_hi) = bounds(lines.iter().flatten().map(|p| p.1)).unwrap_or((0.0, 1.0));
    let pad = ((y_hi - y_lo) * 0.08).max(y_hi.abs() * 0.02).max(1e-3);
    // Half an epoch either side keeps the first and last points off the axes.
    let x_range = (epochs.0 - 0.5).max(0.0)..epochs.1 + 0.5;
    // At most one label per epoch, so whole-number labels never repeat.
    let x_labels = ((epochs.1 - epochs.0) as usize + 1).clamp(1, 10);
    let mut y_range = (y_lo - pad).max(0.0)..y_hi + pad;
    let (width, height) = area.dim_in_pixel();
    // Plotting area: the panel less margins, caption and label areas.
    let (plot_w, plot_h) = (f64::from(width.saturating_sub(80).max(1)), f64::from(height.saturating_sub(85).max(1)));
    let longest = series.iter().map(|s| s.0.len()).max().unwrap_or(0);
    // The legend's size, with a margin, as a fraction of the plotting area.
    let boxed = ((55.0 + 7.5 * longest as f64) / plot_w, ((20.0 + 18.0 * series.len() as f64) / plot_h).min(0.5));
    let scale = |(x, y): (f64, f64)| {
        ((x - x_range.start) / (x_range.end - x_range.start), (y - y_range.start) / (y_range.end - y_range.start))
    };
    let scaled: Vec<Vec<(f64, f64)>> = lines.iter().map(|l| l.iter().copied().map(scale).collect()).collect();
    let (hidden, mut corner) = legend_corner(&scaled, boxed);
    if hidden > 0 {
        // No free corner: raise the top of the axis until the band the
        // legend needs above the data is empty.
        y_range.end = y_range.start + (y_hi - y_range.start) / (1.0 - boxed.1);
        corner = SeriesLabelPosition::UpperRight;
    }
    let mut chart = ChartBuilder::on(area)
        .caption(caption, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x_range.clone(), y_range.clone())?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .x_labels(x_labels)
        .x_label_formatter(&|x| format!("{x:.0}"))
        .light_line_style(WHITE.mix(0.0))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 14))
        .draw()?;
    for ((name, color, _), points) in series.iter().zip(&lines) {
        let color = *color;
        chart
            .draw_series(LineSeries::new(points.iter().copied(), color.stroke_width(2)))?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
        // Markers too, unless they would crowd: a one-epoch run has no line.
        if points.len() <= 40 {
            chart.draw_series(points.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()?;
    Ok(())
}

fn title(rows: &[EpochRow]) -> String {
    let epochs = match rows.len() {
        1 => "1 epoch".to_string(),
        n => format!("{n} epochs"),
    };
    let best =
        rows.iter().filter(|r| r.val_top1_err.is_finite()).min_by(|a, b| a.val_top1_err.total_cmp(&b.val_top1_err));
    match best {
        Some(r) => format!("{epochs}, best val top-1 error {:.2}% (epoch {})", 100.0 * r.val_top1_err, r.epoch),
        None => epochs,
    }
}

fn draw(rows: &[EpochRow], path: &Path) -> DrawResult<()> {
    register();
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let root = root.titled(&title(rows), ("sans-serif", 20))?;
    let (left, right) = root.split_horizontally(SIZE.0 / 2);
    let epochs = bounds(rows.iter().map(|r| f64::from(r.epoch))).unwrap_or((0.0, 1.0));
    let at = |f: fn(&EpochRow) -> f64| rows.iter().map(|r| (f64::from(r.epoch), f(r))).collect::<Vec<_>>();
    panel(
        &left,
        "loss",
        "cross-entropy loss",
        epochs,
        &[("train", BLUE, at(|r| r.train_loss)), ("val", RED, at(|r| r.val_loss))],
    )?;
    panel(
        &right,
        "error",
        "error (%)",
        epochs,
        &[
            ("train top-1", BLUE, at(|r| 100.0 * r.train_top1_err)),
            ("val top-1", RED, at(|r| 100.0 * r.val_top1_err)),
            ("val top-5", GREEN, at(|r| 100.0 * r.val_top5_err)),
        ],
    )?;
    root.present()?;
    Ok(())
}

/// Draws `rows` to the PNG `path` (nothing for an empty run): loss on the
/// left, top-1/top-5 error on the right. Goes through a temporary file and a
/// rename, so a crash never leaves half a PNG under the final name.
pub fn curves(rows: &[EpochRow], path: &Path) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| HostError::File { path: dir.to_path_buf(), source })?;
    }
    // The encoder is chosen by extension, so the temporary name ends in `.png`.
    let tmp = path.with_extension("tmp.png");
    if let Err(e) = draw(rows, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(HostError::Usage(format!("{}: cannot draw the curves: {e}", path.display())));
    }
    std::fs::rename(&tmp, path).map_err(|source| HostError::File { path: path.to_path_buf(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(epoch: u32, e: f64) -> EpochRow {
        EpochRow {
            epoch,
            step: u64::from(epoch) * 100,
            lr: 0.01,
            train_loss: 4.0 * e,
            train_top1_err: 0.9 * e,
            val_loss: 4.2 * e,
            val_top1_err: e,
            val_top5_err: 0.4 * e,
            images_per_sec: 100.0,
            seconds: 10.0 * f64::from(epoch),
            skipped: 0,
        }
    }

    fn is_png(path: &Path) -> usize {
        let bytes = std::fs::read(path).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{} is not a PNG", path.display());
        bytes.len()
    }

    #[test]
    fn draws_a_png() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("host-plot-{}-{nanos}", std::process::id()));
        let path = dir.join("curves.png");
        curves(&[row(1, 0.9), row(2, 0.6), row(3, 0.45)], &path).unwrap();
        let len = is_png(&path);
        assert!(len > 5000, "only {len} bytes");
        assert!(!path.with_extension("tmp.png").exists());

        // One epoch (points only) and non-finite values still draw.
        curves(&[row(1, 0.9)], &dir.join("one.png")).unwrap();
        is_png(&dir.join("one.png"));
        let mut bad = row(2, 0.5);
        bad.val_loss = f64::NAN;
        curves(&[row(1, 0.9), bad], &dir.join("nan.png")).unwrap();
        is_png(&dir.join("nan.png"));

        // An empty run writes nothing.
        curves(&[], &dir.join("none.png")).unwrap();
        assert!(!dir.join("none.png").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn title_names_the_best_epoch() {
        assert_eq!(title(&[row(1, 0.9), row(2, 0.4), row(3, 0.5)]), "3 epochs, best val top-1 error 40.00% (epoch 2)");
        let mut nan = row(1, 0.9);
        nan.val_top1_err = f64::NAN;
        assert_eq!(title(&[nan]), "1 epoch");
    }

    #[test]
    fn legend_avoids_the_data() {
        use SeriesLabelPosition::*;
        let corner = |lines: &[Vec<(f64, f64)>]| legend_corner(lines, (0.3, 0.2));
        // Falling curves leave the upper right free.
        assert_eq!(corner(&[vec![(0.0, 1.0), (0.5, 0.2), (1.0, 0.0)]]), (0, UpperRight));
        // Curves that stay high push the legend down.
        assert_eq!(corner(&[vec![(0.0, 1.0), (1.0, 0.9)], vec![(0.0, 0.5), (1.0, 0.4)]]), (0, LowerLeft));
        assert_eq!(corner(&[vec![(0.0, 0.1), (1.0, 0.9)]]), (0, UpperLeft));
        assert_eq!(corner(&[vec![(0.5, 0.5)]]), (0, UpperRight));
        // Lines through every corner: the one hiding least.
        let (hidden, _) = corner(&[vec![(0.0, 0.0), (1.0, 1.0)], vec![(0.0, 1.0), (1.0, 0.0)]]);
        assert!(hidden > 0);
    }
}
