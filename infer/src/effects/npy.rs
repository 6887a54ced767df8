//! A streaming writer of NumPy `.npy` files (format 1.0, little-endian float32, C order)
//! whose first dimension is only known at the end: the header is written with room to
//! spare and rewritten with the final count by [`NpyWriter::finish`].
//!
//! Hand-written because the format is a 10-byte preamble plus a Python dict literal;
//! the crates that write it pull in ndarray views or serde machinery for no gain here.

use std::io::{self, Seek, SeekFrom, Write};

/// Bytes reserved for the whole header (preamble + dict + padding): a multiple of 64, as
/// the format recommends, and far more than any shape needs.
const HEADER_LEN: usize = 128;

/// Writes rows of `row_shape` float32 values; the file's shape is `(rows, *row_shape)`.
pub struct NpyWriter<W: Write + Seek> {
    inner: W,
    row_shape: Vec<usize>,
    row_len: usize,
    rows: usize,
}

/// The header bytes for `shape` (exactly [`HEADER_LEN`] long).
pub fn header(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    // A one-element tuple needs its trailing comma in Python.
    let tuple = if dims.len() == 1 { format!("({},)", dims[0]) } else { format!("({})", dims.join(", ")) };
    let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    let mut out = Vec::with_capacity(HEADER_LEN);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&((HEADER_LEN - 10) as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    assert!(out.len() < HEADER_LEN, "npy header for shape {shape:?} too long");
    out.resize(HEADER_LEN - 1, b' ');
    out.push(b'\n');
    out
}

impl<W: Write + Seek> NpyWriter<W> {
    pub fn new(mut inner: W, row_shape: &[usize]) -> io::Result<Self> {
        let mut shape = vec![0];
        shape.extend_from_slice(row_shape);
        inner.write_all(&header(&shape))?;
        Ok(NpyWriter { inner, row_shape: row_shape.to_vec(), row_len: row_shape.iter().product(), rows: 0 })
    }

    pub fn row_shape(&self) -> &[usize] {
        &self.row_shape
    }

    /// Appends one row of exactly `row_shape` values.
    pub fn write_row(&mut self, values: &[f32]) -> io::Result<()> {
        assert_eq!(values.len(), self.row_len, "npy row length");
        let mut bytes = Vec::with_capacity(values.len() * 4);
        for v in values {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.inner.write_all(&bytes)?;
        self.rows += 1;
        Ok(())
    }

    /// Rewrites the header with the final row count and returns the writer.
    pub fn finish(mut self) -> io::Result<W> {
        let mut shape = vec![self.rows];
        shape.extend_from_slice(&self.row_shape);
        self.inner.flush()?;
        self.inner.seek(SeekFrom::Start(0))?;
        self.inner.write_all(&header(&shape))?;
        self.inner.seek(SeekFrom::End(0))?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// Reads a float32 `.npy` written by [`NpyWriter`] (or NumPy, for C-order `<f4`):
/// `(shape, values)`. For tests and small tools, not a general reader.
pub fn read_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
    if bytes.len() < 10 || &bytes[..8] != b"\x93NUMPY\x01\x00" {
        return Err("not a version 1.0 .npy file".into());
    }
    let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let dict = std::str::from_utf8(bytes.get(10..10 + hlen).ok_or("truncated header")?).map_err(|e| e.to_string())?;
    if !dict.contains("'descr': '<f4'") || !dict.contains("'fortran_order': False") {
        return Err(format!("not a C-order little-endian float32 array: {dict}"));
    }
    let shape_text = dict.split("'shape': (").nth(1).and_then(|s| s.split(')').next()).ok_or("no shape")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| format!("bad dimension {s:?}")))
        .collect::<Result<_, _>>()?;
    let data = &bytes[10 + hlen..];
    let n: usize = shape.iter().product();
    if data.len() != n * 4 {
        return Err(format!("shape {shape:?} needs {} bytes of data, found {}", n * 4, data.len()));
    }
    let values = data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_well_formed() {
        let h = header(&[2, 4, 150]);
        assert_eq!(h.len(), HEADER_LEN);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(*h.last().unwrap(), b'\n');
        let text = std::str::from_utf8(&h[10..]).unwrap();
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4, 150), }"), "{text}");
        assert!(std::str::from_utf8(&header(&[7])[10..]).unwrap().contains("(7,)"));
    }

    #[test]
    fn rows_round_trip_with_the_final_count() {
        let mut w = NpyWriter::new(io::Cursor::new(Vec::new()), &[2, 3]).unwrap();
        w.write_row(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        w.write_row(&[-0.5, 0.0, f32::NAN, 8.0, 9.0, 1e-7]).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        let (shape, values) = read_f32(&bytes).unwrap();
        assert_eq!(shape, [2, 2, 3]);
        assert_eq!(values[..6], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert!(values[8].is_nan());
        assert_eq!(values[11], 1e-7);
    }

    #[test]
    fn empty_file_has_zero_rows() {
        let w = NpyWriter::new(io::Cursor::new(Vec::new()), &[4, 10]).unwrap();
        let (shape, values) = read_f32(&w.finish().unwrap().into_inner()).unwrap();
        assert_eq!(shape, [0, 4, 10]);
        assert!(values.is_empty());
    }
}
