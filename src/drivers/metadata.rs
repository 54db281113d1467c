//! Metadata removed from licence images before they are stored: a phone photo's EXIF block can
//! hold the GPS position where it was taken, the phone's make and serial, and the time; none
//! of it is needed to verify a licence. Only whole metadata segments (JPEG) or chunks (PNG)
//! are dropped; the compressed pixels are copied byte for byte, so the image decodes exactly
//! as uploaded.
//!
//! - JPEG: APP1 (EXIF, XMP), APP3 to APP13 (maker notes, IPTC/Photoshop), APP15 and comments
//!   (COM) go. APP0 (JFIF), APP2 (ICC colour profile) and APP14 (Adobe: says how to read the
//!   colours) stay, as they change how the pixels decode.
//! - PNG: eXIf, the text chunks (tEXt, zTXt, iTXt) and tIME go; every other chunk stays.

use super::image_kind::ImageKind;

/// The image without its metadata, or None when its structure is broken (the caller refuses
/// such a file as unreadable).
pub fn strip(kind: ImageKind, bytes: &[u8]) -> Option<Vec<u8>> {
    match kind {
        ImageKind::Jpeg => strip_jpeg(bytes),
        ImageKind::Png => strip_png(bytes),
    }
}

fn jpeg_segment_is_metadata(marker: u8) -> bool {
    matches!(marker, 0xE1 | 0xE3..=0xED | 0xEF | 0xFE)
}

fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..2]);
    let mut at = 2;
    loop {
        if *bytes.get(at)? != 0xFF {
            return None;
        }
        let marker = *bytes.get(at + 1)?;
        match marker {
            // A fill byte before a marker.
            0xFF => at += 1,
            // Markers without a length (restart markers, TEM) do not occur before the scan;
            // an end of image here means no scan at all.
            0x01 | 0xD0..=0xD9 => return None,
            _ => {
                let length =
                    usize::from(u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]));
                let end =
                    at.checked_add(2 + length).filter(|e| length >= 2 && *e <= bytes.len())?;
                if marker == 0xDA {
                    // Start of scan: the entropy-coded data and everything after it stay as is.
                    out.extend_from_slice(&bytes[at..]);
                    return Some(out);
                }
                if !jpeg_segment_is_metadata(marker) {
                    out.extend_from_slice(&bytes[at..end]);
                }
                at = end;
            }
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

fn png_chunk_is_metadata(kind: &[u8]) -> bool {
    matches!(kind, b"eXIf" | b"tEXt" | b"zTXt" | b"iTXt" | b"tIME")
}

fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    let mut at = PNG_SIGNATURE.len();
    while at < bytes.len() {
        let length = u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = bytes.get(at + 4..at + 8)?;
        // Length, type, data and CRC.
        let end = at.checked_add(12)?.checked_add(length).filter(|e| *e <= bytes.len())?;
        if !png_chunk_is_metadata(kind) {
            out.extend_from_slice(&bytes[at..end]);
        }
        at = end;
        if kind == b"IEND" {
            // Bytes after the end chunk are not part of the image.
            return Some(out);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use image::{GrayImage, ImageFormat, Luma};

    use super::*;

    const SECRET: &[u8] = b"GPSLatitude 51.5072 N; Pixel 7 serial 12345";

    fn picture() -> GrayImage {
        GrayImage::from_fn(64, 48, |x, y| Luma([((x * 4 + y * 3) % 256) as u8]))
    }

    fn encoded(format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        picture().write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    fn jpeg_segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut segment = vec![0xFF, marker];
        segment.extend(((payload.len() + 2) as u16).to_be_bytes());
        segment.extend(payload);
        segment
    }

    /// A JPEG as a phone writes it: EXIF and XMP in APP1, a comment, then the image.
    fn jpeg_with_metadata() -> Vec<u8> {
        let plain = encoded(ImageFormat::Jpeg);
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend(SECRET);
        let mut out = plain[..2].to_vec();
        out.extend(jpeg_segment(0xE1, &exif));
        out.extend(jpeg_segment(
            0xE1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>Taken at home</x:xmpmeta>",
        ));
        out.extend(jpeg_segment(0xFE, b"comment: Taken at home"));
        out.extend(&plain[2..]);
        out
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend(kind);
        chunk.extend(data);
        chunk.extend([0, 0, 0, 0]); // CRCs are not checked by the stripper
        chunk
    }

    /// A PNG with an eXIf chunk and text chunks after the header.
    fn png_with_metadata() -> Vec<u8> {
        let plain = encoded(ImageFormat::Png);
        let header_end = 8 + 25; // signature, then IHDR (4 + 4 + 13 + 4)
        let mut out = plain[..header_end].to_vec();
        out.extend(png_chunk(b"eXIf", SECRET));
        out.extend(png_chunk(b"tEXt", b"Location\0Taken at home"));
        out.extend(png_chunk(b"tIME", &[7, 234, 11, 21, 12, 0, 0]));
        out.extend(&plain[header_end..]);
        out
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    fn decode(bytes: &[u8], format: ImageFormat) -> GrayImage {
        image::load_from_memory_with_format(bytes, format).unwrap().into_luma8()
    }

    #[test]
    fn jpeg_metadata_goes_and_the_pixels_stay() {
        let original = jpeg_with_metadata();
        assert!(contains(&original, SECRET));
        let stripped = strip(ImageKind::Jpeg, &original).unwrap();
        assert!(!contains(&stripped, SECRET));
        assert!(!contains(&stripped, b"Taken at home"));
        assert_eq!(decode(&stripped, ImageFormat::Jpeg), decode(&original, ImageFormat::Jpeg));
        assert_eq!(stripped, encoded(ImageFormat::Jpeg), "exactly the image without them");
    }

    #[test]
    fn png_metadata_goes_and_the_pixels_stay() {
        let original = png_with_metadata();
        let stripped = strip(ImageKind::Png, &original).unwrap();
        assert!(!contains(&stripped, SECRET));
        assert!(!contains(&stripped, b"Taken at home"));
        assert_eq!(decode(&stripped, ImageFormat::Png), picture());
        assert_eq!(stripped, encoded(ImageFormat::Png));
        let mut trailer = original.clone();
        trailer.extend(b"appended by a phone");
        assert_eq!(strip(ImageKind::Png, &trailer).unwrap(), stripped);
    }

    #[test]
    fn broken_structures_are_refused() {
        let jpeg = jpeg_with_metadata();
        for cut in [3, 5, 12, 30] {
            assert_eq!(strip(ImageKind::Jpeg, &jpeg[..cut]), None, "jpeg cut at {cut}");
        }
        let mut lying = jpeg.clone();
        lying[4] = 0xFF; // the APP1 length runs past the end
        lying[5] = 0xFF;
        assert_eq!(strip(ImageKind::Jpeg, &lying), None);
        let png = png_with_metadata();
        for cut in [9, 20, png.len() - 5] {
            assert_eq!(strip(ImageKind::Png, &png[..cut]), None, "png cut at {cut}");
        }
        assert_eq!(strip(ImageKind::Png, b"not a png"), None);
        assert_eq!(strip(ImageKind::Jpeg, &[0xFF, 0xD8, 0xFF, 0xD9]), None, "no scan");
    }
}
