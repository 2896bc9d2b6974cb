//! H.264 byte-stream helpers: MP4 stores NAL units length-prefixed ("AVCC"), decoders and
//! the MP4 writer take them start-code-prefixed ("Annex B").

/// The NAL unit types this crate cares about (ITU-T H.264 table 7-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NalType {
    /// A slice of an IDR picture: decoding can start here.
    Idr,
    /// A slice of a non-IDR picture.
    NonIdr,
    Sps,
    Pps,
    Other(u8),
}

impl NalType {
    /// The type of a NAL unit from its first byte.
    pub fn of(nal: &[u8]) -> Option<NalType> {
        let header = *nal.first()?;
        Some(match header & 0x1f {
            5 => NalType::Idr,
            1 => NalType::NonIdr,
            7 => NalType::Sps,
            8 => NalType::Pps,
            other => NalType::Other(other),
        })
    }
}

const START_CODE: [u8; 4] = [0, 0, 0, 1];

/// Appends `nal` to `out` behind a 4-byte start code.
pub(crate) fn push_annex_b(out: &mut Vec<u8>, nal: &[u8]) {
    out.extend_from_slice(&START_CODE);
    out.extend_from_slice(nal);
}

/// Converts one MP4 sample (NAL units each behind a big-endian length of `length_size`
/// bytes) to Annex B, appending to `out`. Names the problem when a length runs past the end.
pub(crate) fn length_prefixed_to_annex_b(
    sample: &[u8],
    length_size: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if !(1..=4).contains(&length_size) {
        return Err(format!("NAL length size {length_size} is not 1 to 4 bytes"));
    }
    let mut rest = sample;
    while !rest.is_empty() {
        if rest.len() < length_size {
            return Err(format!(
                "{} trailing bytes are too few for a {length_size}-byte NAL length",
                rest.len()
            ));
        }
        let len = rest[..length_size]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        rest = &rest[length_size..];
        if len > rest.len() {
            return Err(format!(
                "NAL unit of {len} bytes runs past the sample's end ({} left)",
                rest.len()
            ));
        }
        if len > 0 {
            push_annex_b(out, &rest[..len]);
        }
        rest = &rest[len..];
    }
    Ok(())
}

/// The NAL units of an Annex B stream, without their start codes.
pub fn annex_b_nal_units(stream: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    let ends: Vec<usize> = starts
        .iter()
        .skip(1)
        .map(|&(code, _)| code)
        .chain(std::iter::once(stream.len()))
        .collect();
    starts
        .into_iter()
        .zip(ends)
        .map(move |((_, payload), end)| {
            // A 4-byte start code leaves one zero byte at the end of the previous unit;
            // trailing zeros are never part of a NAL unit (rbsp_trailing_bits end in 1).
            let mut end = end;
            while end > payload && stream[end - 1] == 0 {
                end -= 1;
            }
            &stream[payload..end]
        })
}

/// Whether an Annex B access unit holds an IDR slice (a keyframe).
pub fn contains_idr(stream: &[u8]) -> bool {
    annex_b_nal_units(stream).any(|nal| NalType::of(nal) == Some(NalType::Idr))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_prefixed_sample_becomes_start_code_prefixed() {
        let sample = [0, 0, 0, 2, 0x65, 0xAA, 0, 0, 0, 1, 0x41];
        let mut out = Vec::new();
        length_prefixed_to_annex_b(&sample, 4, &mut out).unwrap();
        assert_eq!(out, [0, 0, 0, 1, 0x65, 0xAA, 0, 0, 0, 1, 0x41]);
        let units: Vec<&[u8]> = annex_b_nal_units(&out).collect();
        assert_eq!(units, [&[0x65, 0xAA][..], &[0x41][..]]);
        assert!(contains_idr(&out));
    }

    #[test]
    fn a_length_past_the_end_is_an_error_that_says_so() {
        let mut out = Vec::new();
        let err = length_prefixed_to_annex_b(&[0, 0, 0, 9, 0x65], 4, &mut out).unwrap_err();
        assert!(err.contains("runs past"), "{err}");
        let err = length_prefixed_to_annex_b(&[0, 0], 4, &mut out).unwrap_err();
        assert!(err.contains("too few"), "{err}");
        assert!(length_prefixed_to_annex_b(&[1], 7, &mut out).is_err());
    }

    #[test]
    fn three_and_four_byte_start_codes_both_split() {
        let stream = [
            0, 0, 1, 0x67, 0x42, 0, 0, 0, 1, 0x68, 0xCE, 0, 0, 1, 0x41, 0x9A,
        ];
        let units: Vec<&[u8]> = annex_b_nal_units(&stream).collect();
        assert_eq!(
            units,
            [&[0x67, 0x42][..], &[0x68, 0xCE][..], &[0x41, 0x9A][..]]
        );
        assert!(!contains_idr(&stream));
        assert_eq!(NalType::of(units[0]), Some(NalType::Sps));
        assert_eq!(NalType::of(units[1]), Some(NalType::Pps));
        assert_eq!(NalType::of(units[2]), Some(NalType::NonIdr));
    }
}
