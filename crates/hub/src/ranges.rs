//! HTTP byte ranges (RFC 9110 §14) for clip downloads, so a browser can seek.
//! Only single ranges are honoured; a multi-range or unparseable header is ignored
//! and the whole file served, as the RFC allows.

/// An inclusive byte range within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub start: u64,
    pub end: u64,
}

impl ByteRange {
    pub fn len(&self) -> u64 {
        self.end - self.start + 1
    }

    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `Content-Range` header value for this range of a file of `total` bytes.
    pub fn content_range(&self, total: u64) -> String {
        format!("bytes {}-{}/{}", self.start, self.end, total)
    }
}

/// What to answer to a request's `Range` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with the whole file.
    Whole,
    /// 206 with this part.
    Partial(ByteRange),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

pub fn answer(header: Option<&str>, len: u64) -> RangeAnswer {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeAnswer::Whole;
    };
    if spec.contains(',') {
        return RangeAnswer::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Whole;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        // bytes=-n: the last n bytes.
        (true, false) => match parse(last) {
            Some(0) => RangeAnswer::Unsatisfiable,
            Some(n) if len > 0 => RangeAnswer::Partial(ByteRange {
                start: len.saturating_sub(n),
                end: len - 1,
            }),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        // bytes=a-
        (false, true) => match parse(first) {
            Some(a) if a < len => RangeAnswer::Partial(ByteRange {
                start: a,
                end: len - 1,
            }),
            Some(_) => RangeAnswer::Unsatisfiable,
            None => RangeAnswer::Whole,
        },
        // bytes=a-b
        (false, false) => match (parse(first), parse(last)) {
            (Some(a), Some(b)) if a > b => RangeAnswer::Whole,
            (Some(a), Some(_)) if a >= len => RangeAnswer::Unsatisfiable,
            (Some(a), Some(b)) => RangeAnswer::Partial(ByteRange {
                start: a,
                end: b.min(len - 1),
            }),
            _ => RangeAnswer::Whole,
        },
        (true, true) => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    fn p(start: u64, end: u64) -> RangeAnswer {
        Partial(ByteRange { start, end })
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(answer(Some("bytes=0-99"), 1000), p(0, 99));
        assert_eq!(answer(Some("bytes=500-"), 1000), p(500, 999));
        assert_eq!(answer(Some("bytes=-100"), 1000), p(900, 999));
    }

    #[test]
    fn ranges_past_the_end_are_clamped_or_unsatisfiable() {
        assert_eq!(answer(Some("bytes=900-5000"), 1000), p(900, 999));
        assert_eq!(answer(Some("bytes=-5000"), 1000), p(0, 999));
        assert_eq!(answer(Some("bytes=1000-"), 1000), Unsatisfiable);
        assert_eq!(answer(Some("bytes=1000-1001"), 1000), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 1000), Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn odd_headers_get_the_whole_file() {
        for h in [
            None,
            Some("items=0-1"),
            Some("bytes=0-1,5-6"),
            Some("bytes=x-y"),
            Some("bytes=9-2"),
            Some("bytes=-"),
        ] {
            assert_eq!(answer(h, 1000), Whole, "{h:?}");
        }
    }

    #[test]
    fn content_range_header() {
        let r = ByteRange { start: 0, end: 99 };
        assert_eq!(r.content_range(1000), "bytes 0-99/1000");
        assert_eq!(r.len(), 100);
    }
}
