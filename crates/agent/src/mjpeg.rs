//! Reads a `multipart/x-mixed-replace` MJPEG stream part by part, as a browser's `<img>`
//! does with the hub's live view; tests and the demo use it to see the frames and the
//! capture time each part carries (`X-Captured-At`).

use std::io::{BufRead, BufReader, Read};

/// One part of the stream.
#[derive(Debug, Clone)]
pub struct Part {
    /// Header names in lower case, with their values.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Part {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `X-Captured-At`, ms since the epoch.
    pub fn captured_at_ms(&self) -> Option<u64> {
        self.header("x-captured-at")?.parse().ok()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MjpegError {
    #[error("reading the stream: {0}")]
    Io(#[from] std::io::Error),
    #[error("not an MJPEG part: {0}")]
    Format(String),
}

pub struct MjpegReader<R> {
    inner: BufReader<R>,
    boundary: String,
}

impl<R: Read> MjpegReader<R> {
    /// `boundary` without the leading `--`.
    pub fn new(inner: R, boundary: &str) -> MjpegReader<R> {
        MjpegReader {
            inner: BufReader::new(inner),
            boundary: format!("--{boundary}"),
        }
    }

    /// The boundary a `Content-Type` header names.
    pub fn boundary_of(content_type: &str) -> Option<&str> {
        content_type
            .split(';')
            .find_map(|p| p.trim().strip_prefix("boundary="))
            .map(|b| b.trim_matches('"'))
    }

    fn line(&mut self) -> Result<Option<String>, MjpegError> {
        let mut line = String::new();
        if self.inner.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }

    /// The next part; `None` when the stream ended.
    pub fn next_part(&mut self) -> Result<Option<Part>, MjpegError> {
        let boundary = loop {
            match self.line()? {
                None => return Ok(None),
                Some(l) if l.is_empty() => continue,
                Some(l) => break l,
            }
        };
        if boundary == format!("{}--", self.boundary) {
            return Ok(None);
        }
        if boundary != self.boundary {
            return Err(MjpegError::Format(format!(
                "expected {:?}, got {boundary:?}",
                self.boundary
            )));
        }
        let mut headers = Vec::new();
        loop {
            let Some(l) = self.line()? else {
                return Ok(None);
            };
            if l.is_empty() {
                break;
            }
            let (k, v) = l
                .split_once(':')
                .ok_or_else(|| MjpegError::Format(format!("bad header line {l:?}")))?;
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .and_then(|(_, v)| v.parse().ok())
            .ok_or_else(|| MjpegError::Format("a part without Content-Length".into()))?;
        let mut body = vec![0u8; len];
        match self.inner.read_exact(&mut body) {
            Ok(()) => Ok(Some(Part { headers, body })),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_come_out_whole_with_their_headers() {
        let stream = b"--wl\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\nX-Captured-At: 42\r\n\r\nabc\r\n\
--wl\r\nContent-Length: 2\r\n\r\nde\r\n";
        let mut r = MjpegReader::new(&stream[..], "wl");
        let a = r.next_part().unwrap().unwrap();
        assert_eq!(a.body, b"abc");
        assert_eq!(a.captured_at_ms(), Some(42));
        assert_eq!(a.header("content-type"), Some("image/jpeg"));
        let b = r.next_part().unwrap().unwrap();
        assert_eq!((b.body.as_slice(), b.captured_at_ms()), (&b"de"[..], None));
        assert!(r.next_part().unwrap().is_none());
        assert_eq!(
            MjpegReader::<&[u8]>::boundary_of("multipart/x-mixed-replace; boundary=wl"),
            Some("wl")
        );
        let mut bad = MjpegReader::new(&b"hello\r\n"[..], "wl");
        assert!(bad.next_part().unwrap_err().to_string().contains("hello"));
    }
}
