//! Connected blobs of foreground on a coarse grid of cells.
//!
//! Labelling every pixel costs more than the whole background model; a blob's area and
//! box are what decisions need, so the mask is summed into square cells and the cells are
//! labelled (8-connected, union-find). All buffers are sized once.

use serde::Serialize;

/// A box in full-resolution pixel coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct BoundingBox {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl BoundingBox {
    /// Pixels shared with `other`.
    pub fn overlap_area(&self, other: &BoundingBox) -> u64 {
        let x0 = self.x.max(other.x);
        let y0 = self.y.max(other.y);
        let x1 = (self.x + self.width).min(other.x + other.width);
        let y1 = (self.y + self.height).min(other.y + other.height);
        if x1 <= x0 || y1 <= y0 {
            0
        } else {
            u64::from(x1 - x0) * u64::from(y1 - y0)
        }
    }
}

/// One blob: foreground pixel count (working resolution) and its box in cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob {
    pub area: u32,
    pub cell_x0: u32,
    pub cell_y0: u32,
    pub cell_x1: u32,
    pub cell_y1: u32,
}

const NO_LABEL: u32 = u32::MAX;

/// Reusable labeller for one mask size.
#[derive(Debug, Clone)]
pub struct CellBlobs {
    width: usize,
    height: usize,
    cell: usize,
    cols: usize,
    rows: usize,
    /// Foreground pixels per cell.
    counts: Vec<u16>,
    /// One row: foreground counts of a band of `cell` rows.
    band: Vec<u8>,
    /// Union-find parent per cell (`NO_LABEL` for empty cells).
    parent: Vec<u32>,
    /// Blob index per root cell.
    blob_of_root: Vec<u32>,
    blobs: Vec<Blob>,
}

impl CellBlobs {
    /// `cell` is the side of a square cell in mask pixels.
    pub fn new(width: usize, height: usize, cell: usize) -> CellBlobs {
        // Band counts are bytes.
        let cell = cell.clamp(1, 15);
        let cols = width.div_ceil(cell);
        let rows = height.div_ceil(cell);
        CellBlobs {
            width,
            height,
            cell,
            cols,
            rows,
            counts: vec![0; cols * rows],
            band: vec![0; width],
            parent: vec![NO_LABEL; cols * rows],
            blob_of_root: vec![NO_LABEL; cols * rows],
            blobs: Vec::with_capacity(cols * rows),
        }
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    pub fn cell(&self) -> usize {
        self.cell
    }

    pub fn blobs(&self) -> &[Blob] {
        &self.blobs
    }

    /// The blob index of a cell, if it is foreground.
    pub fn blob_at(&self, cell_index: usize) -> Option<usize> {
        if self.parent[cell_index] == NO_LABEL {
            return None;
        }
        let root = self.find_const(cell_index as u32);
        Some(self.blob_of_root[root as usize] as usize)
    }

    /// Labels the blobs of `mask` (non-zero = foreground, one byte a pixel).
    pub fn label(&mut self, mask: &[u8]) {
        debug_assert_eq!(mask.len(), self.width * self.height);
        // Sum each band of `cell` rows vertically (wide byte adds), then across each cell.
        for cy in 0..self.rows {
            self.band.fill(0);
            for y in cy * self.cell..((cy + 1) * self.cell).min(self.height) {
                let row = &mask[y * self.width..(y + 1) * self.width];
                for (b, &m) in self.band.iter_mut().zip(row) {
                    *b += m & 1;
                }
            }
            let counts = &mut self.counts[cy * self.cols..(cy + 1) * self.cols];
            if self.cell == 4 {
                // Four bytes of at most 4 each: one multiply adds them into the top byte.
                let (body, tail) = self.band.split_at(self.width / 4 * 4);
                for (count, quad) in counts.iter_mut().zip(body.chunks_exact(4)) {
                    let v = u32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]);
                    *count = (v.wrapping_mul(0x0101_0101) >> 24) as u16;
                }
                if !tail.is_empty() {
                    counts[self.cols - 1] = tail.iter().map(|&b| u16::from(b)).sum();
                }
            } else {
                for (count, chunk) in counts.iter_mut().zip(self.band.chunks(self.cell)) {
                    *count = chunk.iter().map(|&b| u16::from(b)).sum();
                }
            }
        }
        self.parent.fill(NO_LABEL);
        for cy in 0..self.rows {
            for cx in 0..self.cols {
                let i = cy * self.cols + cx;
                if self.counts[i] == 0 {
                    continue;
                }
                self.parent[i] = i as u32;
                // Previously visited 8-neighbours: left, up-left, up, up-right.
                if cx > 0 {
                    self.union(i, i - 1);
                }
                if cy > 0 {
                    let up = i - self.cols;
                    if cx > 0 {
                        self.union(i, up - 1);
                    }
                    self.union(i, up);
                    if cx + 1 < self.cols {
                        self.union(i, up + 1);
                    }
                }
            }
        }
        self.blobs.clear();
        for i in 0..self.counts.len() {
            if self.parent[i] == NO_LABEL {
                continue;
            }
            let root = self.find(i as u32) as usize;
            let (cx, cy) = ((i % self.cols) as u32, (i / self.cols) as u32);
            // Unions link to the lower index, so a set's root is its first cell in raster order.
            if root == i {
                self.blob_of_root[root] = self.blobs.len() as u32;
                self.blobs.push(Blob {
                    area: 0,
                    cell_x0: cx,
                    cell_y0: cy,
                    cell_x1: cx,
                    cell_y1: cy,
                });
            }
            let blob = &mut self.blobs[self.blob_of_root[root] as usize];
            blob.area += u32::from(self.counts[i]);
            blob.cell_x0 = blob.cell_x0.min(cx);
            blob.cell_x1 = blob.cell_x1.max(cx);
            blob.cell_y0 = blob.cell_y0.min(cy);
            blob.cell_y1 = blob.cell_y1.max(cy);
        }
    }

    fn union(&mut self, a: usize, b: usize) {
        if self.parent[b] == NO_LABEL {
            return;
        }
        let ra = self.find(a as u32);
        let rb = self.find(b as u32);
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    fn find(&mut self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            let grand = self.parent[self.parent[i as usize] as usize];
            self.parent[i as usize] = grand;
            i = grand;
        }
        i
    }

    fn find_const(&self, mut i: u32) -> u32 {
        while self.parent[i as usize] != i {
            i = self.parent[i as usize];
        }
        i
    }

    /// Clears the mask pixels of every cell whose blob fails `keep`.
    pub fn clear_cells(&self, mask: &mut [u8], keep: impl Fn(&Blob) -> bool) {
        for cy in 0..self.rows {
            for cx in 0..self.cols {
                let i = cy * self.cols + cx;
                let Some(b) = self.blob_at(i) else { continue };
                if keep(&self.blobs[b]) {
                    continue;
                }
                let x0 = cx * self.cell;
                let x1 = (x0 + self.cell).min(self.width);
                for y in cy * self.cell..((cy + 1) * self.cell).min(self.height) {
                    mask[y * self.width + x0..y * self.width + x1].fill(0);
                }
            }
        }
    }

    /// The box of a blob in mask pixels, clipped to the mask.
    pub fn pixel_box(&self, blob: &Blob) -> (usize, usize, usize, usize) {
        let x0 = blob.cell_x0 as usize * self.cell;
        let y0 = blob.cell_y0 as usize * self.cell;
        let x1 = ((blob.cell_x1 as usize + 1) * self.cell).min(self.width);
        let y1 = ((blob.cell_y1 as usize + 1) * self.cell).min(self.height);
        (x0, y0, x1 - x0, y1 - y0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask_from(rows: &[&str]) -> (usize, usize, Vec<u8>) {
        let w = rows[0].len();
        let m = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| u8::from(b == b'#')))
            .collect();
        (w, rows.len(), m)
    }

    #[test]
    fn separate_and_diagonal_blobs_are_counted_right() {
        let (w, h, m) = mask_from(&[
            "##....#", //
            "##.....", //
            "......#", //
            ".....#.", //
        ]);
        let mut cb = CellBlobs::new(w, h, 1);
        cb.label(&m);
        let mut areas: Vec<u32> = cb.blobs().iter().map(|b| b.area).collect();
        areas.sort();
        assert_eq!(areas, vec![1, 2, 4]);
        // Relabelling the same mask again gives the same blobs (no stale state).
        cb.label(&m);
        assert_eq!(cb.blobs().len(), 3);
    }

    #[test]
    fn u_shape_merges_into_one_blob_with_its_box() {
        let (w, h, m) = mask_from(&[
            "#...#", //
            "#...#", //
            "#####", //
        ]);
        let mut cb = CellBlobs::new(w, h, 1);
        cb.label(&m);
        assert_eq!(cb.blobs().len(), 1);
        assert_eq!(cb.blobs()[0].area, 9);
        assert_eq!(cb.pixel_box(&cb.blobs()[0]), (0, 0, 5, 3));
    }

    #[test]
    fn clear_cells_removes_only_rejected_blobs() {
        let (w, h, mut m) = mask_from(&[
            "##...", //
            "##..#", //
        ]);
        let mut cb = CellBlobs::new(w, h, 1);
        cb.label(&m);
        cb.clear_cells(&mut m, |b| b.area >= 2);
        assert_eq!(m, mask_from(&["##...", "##..."]).2);
    }

    #[test]
    fn box_overlap() {
        let a = BoundingBox {
            x: 0,
            y: 0,
            width: 10,
            height: 10,
        };
        let b = BoundingBox {
            x: 5,
            y: 8,
            width: 10,
            height: 10,
        };
        assert_eq!(a.overlap_area(&b), 10);
        let c = BoundingBox { x: 20, ..b };
        assert_eq!(a.overlap_area(&c), 0);
    }
}
