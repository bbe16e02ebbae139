//! Fast int8 convolution (and dense layers, a 1x1 convolution of a 1x1 map)
//! as a GEMM: per group, the input is unfolded once into column panels
//! (im2col, laid out like the weight panels, padding filled with the input
//! zero point so it contributes nothing), then every weight panel meets every
//! column panel in a 4x4 register tile ([`super::tile`]). A map of one pixel
//! takes the panel-vector product instead, which streams each weight once.
//!
//! The zero-point correction `input_offset * sum(w)` comes from the weight
//! sums stored with the packed weights, so it costs one multiply per channel.
//!
//! A dense layer over several images ([`dense_i8_batch`]) puts up to
//! [`TILE_COLS`] images' inputs in the lanes of one column panel, so each
//! weight is read once for all of them: a GEMM instead of streaming the
//! weights (58 MB on the paper network) once per image.

use super::tile::{panel_dot_i8, tile_i8, RowStage, TILE_COLS};
use crate::layers::conv::{ConvGeometry, ConvI8Params};
use crate::layers::packed::{PackedLayout, PANEL_DEPTH, PANEL_ROWS};
use crate::parallel::{run_on_ranges, share, OneCore, Workers};
use core::ops::Range;

/// Scratch bytes [`conv2d_i8`] needs for this geometry.
pub fn conv2d_i8_scratch_len(g: &ConvGeometry) -> usize {
    let pixels = g.output.h as usize * g.output.w as usize;
    pixels.next_multiple_of(TILE_COLS) * g.packed_layout().padded_depth()
}

/// Calls `put(value)` for every value of output pixel `px`'s patch in
/// group `group`, in order, padding as `pad_value`.
#[inline(always)]
fn patch_values(g: &ConvGeometry, group: usize, pad_value: i8, input: &[i8], px: usize, mut put: impl FnMut(i8)) {
    let (ih, iw) = (g.input.h, g.input.w as usize);
    let (ow, k, in_g) = (g.output.w as usize, g.kernel, g.in_per_group());
    let (oy, ox) = (px / ow, px % ow);
    // Columns of the window, when all of them lie inside the input.
    let x0 = (ox * g.stride).checked_sub(g.padding).filter(|x| x + k <= iw);
    for ic in 0..in_g {
        let plane = &input[(group * in_g + ic) * ih as usize * iw..][..ih as usize * iw];
        for ky in 0..k {
            match (g.input_coord(oy, ky, ih), x0) {
                (None, _) => (0..k).for_each(|_| put(pad_value)),
                (Some(iy), Some(x0)) => plane[iy * iw + x0..][..k].iter().for_each(|v| put(*v)),
                (Some(iy), None) => {
                    for kx in 0..k {
                        put(g.input_coord(ox, kx, iw as u32).map_or(pad_value, |ix| plane[iy * iw + ix]));
                    }
                }
            }
        }
    }
}

/// Writes one lane of a column panel in depth order: 16 values, then the
/// next step's 16 of the same lane, 48 bytes further on.
struct LaneWriter<'a> {
    panel: &'a mut [i8],
    at: usize,
    left_in_step: usize,
}

impl<'a> LaneWriter<'a> {
    fn new(panel: &'a mut [i8], lane: usize) -> Self {
        LaneWriter { panel, at: lane * PANEL_DEPTH, left_in_step: PANEL_DEPTH }
    }

    #[inline(always)]
    fn put(&mut self, v: i8) {
        self.panel[self.at] = v;
        self.at += 1;
        self.left_in_step -= 1;
        if self.left_in_step == 0 {
            self.at += (TILE_COLS - 1) * PANEL_DEPTH;
            self.left_in_step = PANEL_DEPTH;
        }
    }
}

/// Kernel rows staged per chunk: 16, so a chunk of rows of any width
/// starts on a step boundary.
const CHUNK_ROWS: usize = 16;
/// The widest kernel row one 16-byte copy takes.
const MAX_COPY_KERNEL: usize = 16;

/// A chunk of one pixel's patch, gathered in order before it goes into the
/// panel; 16 bytes of slack take the last row's over-long copy.
#[repr(C, align(16))]
struct Staging([i8; CHUNK_ROWS * MAX_COPY_KERNEL + 16]);

/// Moves the staged rows of a chunk (`staged` bytes, starting at depth
/// `first`) into lane `lane` of `panel`, 16 bytes a step; the last chunk
/// (`last`) is first padded with zeros to `depth`. Every chunk but the last
/// is 16 rows, so it ends on a step boundary.
#[inline(always)]
fn flush_staged(
    stage: &mut [i8],
    staged: usize,
    first: usize,
    last: bool,
    depth: usize,
    panel: &mut [i8],
    lane: usize,
) {
    let len = if last { depth - first } else { staged };
    if len > staged {
        stage[staged..len].fill(0);
    }
    for (s, chunk) in stage[..len].chunks_exact(PANEL_DEPTH).enumerate() {
        super::copy16(&mut panel[((first / PANEL_DEPTH + s) * TILE_COLS + lane) * PANEL_DEPTH..], chunk);
    }
}

/// Writes pixel `px`'s patch of group `group` into lane `lane` of `panel`
/// (one block's column panel), then the depth padding's zeros. Each kernel
/// row goes into `staging` with one 16-byte copy (the bytes past the row
/// are overwritten by the next one), rows of padding from `pads`; every 16
/// staged bytes then go into the lane's next step with one more copy. A
/// window wholly inside the input walks its rows with one offset; only
/// rows that cross the input's left or right edge are written value by
/// value. `g.kernel` is at most 16.
#[allow(clippy::too_many_arguments)]
fn pack_lane_rows(
    g: &ConvGeometry,
    group: usize,
    pads: &[i8; 16],
    input: &[i8],
    px: usize,
    panel: &mut [i8],
    lane: usize,
    depth: usize,
    staging: &mut Staging,
) {
    let (ih, iw) = (g.input.h as usize, g.input.w as usize);
    let plane_len = ih * iw;
    let (ow, k, in_g) = (g.output.w as usize, g.kernel, g.in_per_group());
    let (oy, ox) = (px / ow, px % ow);
    let rows = in_g * k;
    let stage = &mut staging.0;
    // Columns and rows of the window, when all of them lie inside the input.
    let x0 = (ox * g.stride).checked_sub(g.padding).filter(|x| x + k <= iw);
    let y0 = (oy * g.stride).checked_sub(g.padding).filter(|y| y + k <= ih);
    if let (Some(x0), Some(y0)) = (x0, y0) {
        let base = group * in_g * plane_len + y0 * iw + x0;
        // The last row's 16-byte read must stay inside the input.
        if base + (in_g - 1) * plane_len + (k - 1) * iw + 16 <= input.len() {
            let (mut src, mut ky, mut row) = (base, 0, 0);
            let next_plane = plane_len - k * iw;
            while row < rows {
                let n = (rows - row).min(CHUNK_ROWS);
                let mut at = 0;
                for _ in 0..n {
                    super::copy16(&mut stage[at..], &input[src..]);
                    (at, src, ky) = (at + k, src + iw, ky + 1);
                    if ky == k {
                        (src, ky) = (src + next_plane, 0);
                    }
                }
                flush_staged(stage, at, row * k, row + n == rows, depth, panel, lane);
                row += n;
            }
            return;
        }
    }
    let (mut ic, mut ky) = (0, 0);
    let mut row = 0;
    while row < rows {
        let n = (rows - row).min(CHUNK_ROWS);
        let mut at = 0;
        for _ in 0..n {
            let dst = &mut stage[at..];
            let plane = (group * in_g + ic) * plane_len;
            match (g.input_coord(oy, ky, ih as u32), x0) {
                (None, _) => super::copy16(dst, pads),
                (Some(iy), Some(x0)) => {
                    let start = plane + iy * iw + x0;
                    match input.get(start..start + 16) {
                        Some(src) => super::copy16(dst, src),
                        None => dst[..k].copy_from_slice(&input[start..start + k]),
                    }
                }
                (Some(iy), None) => {
                    for (kx, d) in dst[..k].iter_mut().enumerate() {
                        *d = g.input_coord(ox, kx, iw as u32).map_or(pads[0], |ix| input[plane + iy * iw + ix]);
                    }
                }
            }
            at += k;
            ky += 1;
            if ky == k {
                (ic, ky) = (ic + 1, 0);
            }
        }
        flush_staged(stage, at, row * k, row + n == rows, depth, panel, lane);
        row += n;
    }
}

/// Unfolds group `group` of `input` into the column panels of blocks
/// `first_block..` (as many as `cols` holds): pixel `px`'s value `k` goes to
/// panel `px / 4`, step `k / 16`, lane `px % 4`. Depth padding is zero,
/// pixels past the end repeat the pad value (their sums are dropped).
fn pack_columns(
    g: &ConvGeometry,
    group: usize,
    pad_value: i8,
    input: &[i8],
    depth: usize,
    first_block: usize,
    cols: &mut [i8],
) {
    let pixels = g.output.h as usize * g.output.w as usize;
    let patch = g.patch_len();
    let panel_len = TILE_COLS * depth;
    let pads = [pad_value; 16];
    let mut staging = Staging([0; CHUNK_ROWS * MAX_COPY_KERNEL + 16]);
    for (block, panel) in cols.chunks_exact_mut(panel_len).enumerate() {
        for lane in 0..TILE_COLS {
            let px = (first_block + block) * TILE_COLS + lane;
            if px < pixels && g.kernel <= MAX_COPY_KERNEL {
                pack_lane_rows(g, group, &pads, input, px, panel, lane, depth, &mut staging);
                continue;
            }
            let mut out = LaneWriter::new(panel, lane);
            if px < pixels {
                patch_values(g, group, pad_value, input, px, |v| out.put(v));
            } else {
                (0..patch).for_each(|_| out.put(pad_value));
            }
            (patch..depth).for_each(|_| out.put(0));
        }
    }
}

/// Images a [`dense_i8_batch`] call takes: one per lane of a column panel.
pub const DENSE_BATCH: usize = TILE_COLS;

/// Scratch bytes [`dense_i8_batch`] / [`dense_i8_batch_on`] need for this
/// geometry: the images' column panel, then their outputs channel by channel
/// (each core writes its own channels there; they are copied out after).
pub fn dense_i8_batch_scratch_len(g: &ConvGeometry) -> usize {
    DENSE_BATCH * g.packed_layout().padded_depth() + DENSE_BATCH * g.output.c as usize
}

/// A layer with a one-pixel output (a dense layer) for up to
/// [`DENSE_BATCH`] images: `outputs[i]` gets what [`conv2d_i8`] gives for
/// `inputs[i]`, bit for bit, but every weight panel is read once for all of
/// them. `scratch` needs [`dense_i8_batch_scratch_len`] bytes.
pub fn dense_i8_batch(p: &ConvI8Params, inputs: &[&[i8]], outputs: &mut [&mut [i8]], scratch: &mut [i8]) {
    dense_i8_batch_on(p, inputs, outputs, scratch, &OneCore)
}

/// [`dense_i8_batch`] with the weight panels (output channels) split over
/// `workers`; each output is computed exactly as on one core.
pub fn dense_i8_batch_on(
    p: &ConvI8Params,
    inputs: &[&[i8]],
    outputs: &mut [&mut [i8]],
    scratch: &mut [i8],
    workers: &dyn Workers,
) {
    let g = &p.geometry;
    assert_eq!((g.output.h, g.output.w), (1, 1), "dense_i8_batch takes one-pixel outputs");
    assert!(inputs.len() <= DENSE_BATCH && inputs.len() == outputs.len(), "dense_i8_batch: up to 4 images");
    for (input, output) in inputs.iter().zip(outputs.iter()) {
        p.check(input, output);
    }
    let layout = p.weights.layout;
    let depth = layout.padded_depth();
    let (cols, staged) = scratch[..dense_i8_batch_scratch_len(g)].split_at_mut(DENSE_BATCH * depth);
    let pad_value = (-p.input_offset).clamp(-128, 127) as i8;
    let patch = g.patch_len();
    for group in 0..g.groups {
        for lane in 0..DENSE_BATCH {
            let mut out = LaneWriter::new(cols, lane);
            match inputs.get(lane) {
                Some(input) => patch_values(g, group, pad_value, input, 0, |v| out.put(v)),
                // Lanes without an image: their sums are dropped.
                None => (0..patch).for_each(|_| out.put(pad_value)),
            }
            (patch..depth).for_each(|_| out.put(0));
        }
        let cols = &*cols;
        run_on_panels(workers, &layout, group, staged, DENSE_BATCH, |panels, staged| {
            let first_channel = panel_channels(&layout, group, &panels).start;
            for panel in panels {
                let first = group * layout.rows + panel * PANEL_ROWS;
                let rows = (layout.rows - panel * PANEL_ROWS).min(PANEL_ROWS);
                let y = tile_i8(p.weights.panel(group, panel), cols, &row_stage(p, first, rows));
                let at = (first - first_channel) * DENSE_BATCH;
                for (r, row) in y.iter().enumerate().take(rows) {
                    staged[at + r * DENSE_BATCH..][..DENSE_BATCH].copy_from_slice(row);
                }
            }
        });
        let channels = group * layout.rows..(group + 1) * layout.rows;
        for (lane, output) in outputs.iter_mut().enumerate() {
            for c in channels.clone() {
                output[c] = staged[c * DENSE_BATCH + lane];
            }
        }
    }
}

/// The output stage of the panel whose first channel is `first` (`rows` of
/// its rows are real), with the zero-point correction folded into the bias.
fn row_stage(p: &ConvI8Params, first: usize, rows: usize) -> RowStage {
    let channel = |r: usize| first + r.min(rows - 1);
    RowStage {
        bias: core::array::from_fn(|r| {
            let c = channel(r);
            p.bias[c].wrapping_add(p.input_offset.wrapping_mul(p.weights.sums[c]))
        }),
        multiplier: core::array::from_fn(|r| p.output.multiplier[channel(r)]),
        shift: core::array::from_fn(|r| p.output.shift[channel(r)]),
        output_offset: p.output.output_offset,
        act_min: p.output.act_min,
        act_max: p.output.act_max,
    }
}

/// Output channels of `panels` of group `group`.
fn panel_channels(layout: &PackedLayout, group: usize, panels: &Range<usize>) -> Range<usize> {
    let first = group * layout.rows;
    first + (panels.start * PANEL_ROWS).min(layout.rows)..first + (panels.end * PANEL_ROWS).min(layout.rows)
}

/// Runs `task(panels, out)` on every part of `workers`: each part takes its
/// share of group `group`'s weight panels, and `out` is those panels'
/// output channels of `outputs`, which holds `per_channel` values per
/// channel of the layer, channel after channel.
fn run_on_panels(
    workers: &dyn Workers,
    layout: &PackedLayout,
    group: usize,
    outputs: &mut [i8],
    per_channel: usize,
    task: impl Fn(Range<usize>, &mut [i8]) + Sync,
) {
    let parts = workers.parts();
    let panels = |part| share(layout.panels(), part, parts);
    run_on_ranges(
        workers,
        outputs,
        |part| {
            let channels = panel_channels(layout, group, &panels(part));
            channels.start * per_channel..channels.end * per_channel
        },
        |part, out| task(panels(part), out),
    );
}

/// Every output of `panels` of group `group` from the packed columns; `out`
/// holds those panels' channels (`pixels` values each).
fn compute_panels(p: &ConvI8Params, group: usize, panels: Range<usize>, cols: &[i8], out: &mut [i8]) {
    let layout = p.weights.layout;
    let pixels = p.geometry.output.h as usize * p.geometry.output.w as usize;
    let depth = layout.padded_depth();
    let first_channel = panel_channels(&layout, group, &panels).start;
    for panel in panels {
        let first = group * layout.rows + panel * PANEL_ROWS;
        let rows = (layout.rows - panel * PANEL_ROWS).min(PANEL_ROWS);
        let w = p.weights.panel(group, panel);
        let stage = row_stage(p, first, rows);
        let out = &mut out[(first - first_channel) * pixels..][..rows * pixels];
        if pixels == 1 {
            let y = panel_dot_i8(w, &cols[..depth], &stage);
            out.copy_from_slice(&y[..rows]);
            continue;
        }
        for (block, x) in cols.chunks_exact(TILE_COLS * depth).enumerate() {
            let y = tile_i8(w, x, &stage);
            let (px, n) = (block * TILE_COLS, (pixels - block * TILE_COLS).min(TILE_COLS));
            for (r, row) in y.iter().enumerate().take(rows) {
                let dst = &mut out[r * pixels + px..];
                // A whole row as a fixed-size copy: a copy of run-time
                // length is a `memcpy` call per row on the board.
                if n == TILE_COLS {
                    dst[..TILE_COLS].copy_from_slice(row);
                } else {
                    dst[..n].copy_from_slice(&row[..n]);
                }
            }
        }
    }
}

/// Same result as [`crate::layers::conv::conv2d_i8_ref`], bit for bit.
/// `scratch` needs [`conv2d_i8_scratch_len`] bytes.
pub fn conv2d_i8(p: &ConvI8Params, input: &[i8], output: &mut [i8], scratch: &mut [i8]) {
    conv2d_i8_on(p, input, output, scratch, &OneCore)
}

/// [`conv2d_i8`] with the work split over `workers`: first the column
/// panels (by blocks of pixels), then the weight panels (by output
/// channels). Each output is computed exactly as on one core.
pub fn conv2d_i8_on(p: &ConvI8Params, input: &[i8], output: &mut [i8], scratch: &mut [i8], workers: &dyn Workers) {
    p.check(input, output);
    let g = &p.geometry;
    let layout = p.weights.layout;
    let pixels = g.output.h as usize * g.output.w as usize;
    let depth = layout.padded_depth();
    let cols = &mut scratch[..conv2d_i8_scratch_len(g)];
    // The real value 0 is the zero point, i.e. -input_offset; it always fits
    // in i8 because validated zero points are in -128..=127.
    let pad_value = (-p.input_offset).clamp(-128, 127) as i8;
    let parts = workers.parts();
    for group in 0..g.groups {
        if pixels == 1 {
            let column = &mut cols[..depth];
            column.fill(0);
            let mut k = 0;
            patch_values(g, group, pad_value, input, 0, |v| {
                column[k] = v;
                k += 1;
            });
        } else {
            let panel_len = TILE_COLS * depth;
            let blocks = cols.len() / panel_len;
            let mine = |part| share(blocks, part, parts);
            run_on_ranges(
                workers,
                cols,
                |part| mine(part).start * panel_len..mine(part).end * panel_len,
                |part, panels| pack_columns(g, group, pad_value, input, depth, mine(part).start, panels),
            );
        }
        let cols = &*cols;
        run_on_panels(workers, &layout, group, output, pixels, |panels, out| {
            compute_panels(p, group, panels, cols, out)
        });
    }
}
