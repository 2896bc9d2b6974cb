//! H.264 encoding and decoding, MP4 clips a browser plays, thumbnails, pre-roll.
