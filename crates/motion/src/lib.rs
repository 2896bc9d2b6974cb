//! Pixel motion detection on luma, frame sources, and CDnet evaluation.
