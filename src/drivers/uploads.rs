//! Licence images: what is accepted (JPEG or PNG by content, bounded bytes and pixels), and
//! where the bytes live. All file IO on uploads goes through [`UploadStore`]; the database
//! keeps only an [`UploadRecord`]. [`FileUploadStore`] seals every file under the PII key, so
//! a copy of the data directory without its keys shows no licence.

use std::fs::{self, OpenOptions};
use std::io::{self, Cursor, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use image::{GrayImage, ImageReader, Limits};
use sha2::{Digest, Sha256};

use crate::config::DriverConfig;
use crate::pii::FieldCipher;
use crate::pii::cipher;

pub use super::image_kind::ImageKind;

/// Why an image was refused. The messages are for the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    #[error("the {side} image is larger than {max} bytes")]
    TooLarge { side: &'static str, max: usize },
    #[error("the {side} image is not a JPEG or PNG file")]
    NotAnImage { side: &'static str },
    #[error("the {side} image cannot be read: the file is damaged or cut short")]
    Unreadable { side: &'static str },
    #[error("the {side} image is {width}x{height} pixels; at most {max} pixels are accepted")]
    TooManyPixels { side: &'static str, width: u32, height: u32, max: u64 },
    #[error("the {side} image is {width}x{height} pixels; each side needs at least {min} pixels")]
    TooSmall { side: &'static str, width: u32, height: u32, min: u32 },
}

/// An image that passed the checks on its size, type and header.
#[derive(Debug, Clone)]
pub struct CheckedImage {
    pub side: &'static str,
    pub kind: ImageKind,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// Checks type, size and dimensions without decoding a pixel (the header only), and drops the
/// image's metadata ([`super::metadata`]).
pub fn check(
    side: &'static str,
    bytes: Vec<u8>,
    config: &DriverConfig,
) -> Result<CheckedImage, ImageError> {
    if bytes.len() > config.max_image_bytes {
        return Err(ImageError::TooLarge { side, max: config.max_image_bytes });
    }
    let kind = ImageKind::sniff(&bytes).ok_or(ImageError::NotAnImage { side })?;
    // The JPEG decoder pads a cut-short file with grey instead of failing.
    if kind == ImageKind::Jpeg && !jpeg_is_complete(&bytes) {
        return Err(ImageError::Unreadable { side });
    }
    let (width, height) = ImageReader::with_format(Cursor::new(&bytes), kind.format())
        .into_dimensions()
        .map_err(|_| ImageError::Unreadable { side })?;
    if u64::from(width) * u64::from(height) > config.max_image_pixels {
        return Err(ImageError::TooManyPixels {
            side,
            width,
            height,
            max: config.max_image_pixels,
        });
    }
    if width < config.min_image_side || height < config.min_image_side {
        return Err(ImageError::TooSmall { side, width, height, min: config.min_image_side });
    }
    // What is stored, hashed and read is the image without its metadata (GPS and the like).
    let bytes = super::metadata::strip(kind, &bytes).ok_or(ImageError::Unreadable { side })?;
    Ok(CheckedImage { side, kind, width, height, bytes })
}

/// Whether a JPEG's image data ends with its end-of-image marker. The header segments are
/// walked to the first start-of-scan (an embedded EXIF thumbnail has its own markers, inside
/// its segment); after it, `FF D9` can only be the end marker, since scan data stuffs every
/// `FF` byte. Bytes after the end marker (some phones append a trailer) do not matter.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut at = 2;
    while at + 4 <= bytes.len() {
        if bytes[at] != 0xFF {
            return false;
        }
        let marker = bytes[at + 1];
        if marker == 0xFF {
            at += 1; // fill byte
            continue;
        }
        if marker == 0xDA {
            return bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]);
        }
        let length = usize::from(u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]));
        at += 2 + length;
    }
    false
}

impl CheckedImage {
    /// Decodes the pixels as greyscale. The decoder's own limits repeat the header check, so a
    /// header that lies about its size still cannot make it allocate more. EXIF orientation
    /// and other metadata are not applied.
    pub fn decode_luma(&self, config: &DriverConfig) -> Result<GrayImage, ImageError> {
        let mut reader = ImageReader::with_format(Cursor::new(&self.bytes), self.kind.format());
        let mut limits = Limits::default();
        limits.max_image_width = Some(self.width);
        limits.max_image_height = Some(self.height);
        // RGBA at 8 bits is the largest buffer a JPEG or PNG of these dimensions decodes to;
        // 16-bit PNGs are refused rather than allowed twice the memory.
        limits.max_alloc = Some(config.max_image_pixels.saturating_mul(4).saturating_add(1 << 20));
        reader.limits(limits);
        let side = self.side;
        let image = reader.decode().map_err(|_| ImageError::Unreadable { side })?;
        Ok(image.into_luma8())
    }

    pub fn sha256(&self) -> String {
        hex::encode(Sha256::digest(&self.bytes))
    }
}

/// What the database keeps about a stored image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRecord {
    /// The file's name inside the uploads directory (random, no extension).
    pub path: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    /// The PII key the file is sealed under (None: a plain file from before sealing).
    pub key_id: Option<u32>,
}

/// Where licence images live. Implementations must keep names opaque and refuse any name they
/// did not hand out. Calls block: run them on the blocking pool.
pub trait UploadStore: Send + Sync + 'static {
    /// Stores `bytes` under a new random name; returns the name and the PII key id it is
    /// sealed under.
    fn put(&self, bytes: &[u8]) -> io::Result<(String, u32)>;
    fn get(&self, name: &str) -> io::Result<Vec<u8>>;
    /// Deleting a missing file succeeds.
    fn delete(&self, name: &str) -> io::Result<()>;
    /// Rewrites the file sealed under PII key `key_id` (a plain file gets sealed). A crash
    /// leaves either the old or the new file, whole.
    fn reseal(&self, name: &str, key_id: u32) -> io::Result<()>;
}

/// The context every licence image is sealed under.
pub(super) const SEALED_FILE: &str = "driver_uploads.file";

/// Sealed files in `<data_dir>/uploads/`, mode 0600, written to a temporary name, synced and
/// renamed into place. A file is the image sealed whole ([`FieldCipher::seal_under`]): images
/// are at most `driver.max_image_bytes`, so sealing in one piece costs one extra copy.
pub struct FileUploadStore {
    dir: PathBuf,
    pii: FieldCipher,
}

impl FileUploadStore {
    pub fn open(data_dir: &Path, pii: FieldCipher) -> io::Result<Self> {
        let dir = data_dir.join("uploads");
        fs::create_dir_all(&dir)?;
        Ok(Self { dir, pii })
    }

    fn path_of(&self, name: &str) -> io::Result<PathBuf> {
        if name.len() == 32
            && name.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            Ok(self.dir.join(name))
        } else {
            Err(io::Error::new(io::ErrorKind::InvalidInput, "not an upload name"))
        }
    }

    /// Writes `bytes` as `name`, replacing a file of that name only once they are on disk.
    fn write(&self, name: &str, bytes: &[u8], replace: bool) -> io::Result<()> {
        let path = self.path_of(name)?;
        if replace && !path.exists() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such upload"));
        }
        let partial = self.dir.join(format!("{name}.part"));
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&partial)?;
        let written = file.write_all(bytes).and_then(|()| file.sync_all());
        if let Err(e) = written.and_then(|()| fs::rename(&partial, &path)) {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
        Ok(())
    }

    fn seal(&self, key_id: u32, plain: &[u8]) -> io::Result<Vec<u8>> {
        self.pii.seal_under(key_id, SEALED_FILE, plain).map_err(invalid_data)
    }
}

pub(super) fn invalid_data(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl UploadStore for FileUploadStore {
    fn put(&self, bytes: &[u8]) -> io::Result<(String, u32)> {
        let name = hex::encode(rand::random::<[u8; 16]>());
        let key_id = self.pii.ring().active_id();
        self.write(&name, &self.seal(key_id, bytes)?, false)?;
        Ok((name, key_id))
    }

    /// The image: opened when sealed, as is when a plain file from before sealing.
    fn get(&self, name: &str) -> io::Result<Vec<u8>> {
        let stored = fs::read(self.path_of(name)?)?;
        if stored.first() == Some(&cipher::VERSION) {
            self.pii.open(SEALED_FILE, &stored).map_err(invalid_data)
        } else if ImageKind::sniff(&stored).is_some() {
            Ok(stored)
        } else {
            Err(invalid_data("neither a sealed file nor an image"))
        }
    }

    fn delete(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.path_of(name)?) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn reseal(&self, name: &str, key_id: u32) -> io::Result<()> {
        let sealed = self.seal(key_id, &self.get(name)?)?;
        self.write(name, &sealed, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::ImageFormat;

    fn config() -> DriverConfig {
        DriverConfig { min_image_side: 10, ..DriverConfig::default() }
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        GrayImage::new(width, height)
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
            .unwrap();
        out
    }

    /// A PNG header (signature and IHDR) claiming `width` x `height`, with no pixel data.
    fn png_header(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([8, 0, 0, 0, 0]);
        let crc = crc32(&ihdr);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(13u32.to_be_bytes());
        out.extend(ihdr);
        out.extend(crc.to_be_bytes());
        // An empty IDAT ends the header; a decoder reads the dimensions and stops there.
        out.extend(0u32.to_be_bytes());
        out.extend(b"IDAT");
        out.extend(crc32(b"IDAT").to_be_bytes());
        out.extend(0u32.to_be_bytes());
        out.extend(b"IEND");
        out.extend(crc32(b"IEND").to_be_bytes());
        out
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(ImageKind::sniff(&png(1, 1)), Some(ImageKind::Png));
        assert_eq!(ImageKind::sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(ImageKind::Jpeg));
        assert_eq!(ImageKind::sniff(b"PK\x03\x04rest of a zip"), None);
        assert_eq!(ImageKind::sniff(b"GIF89a"), None);
        assert_eq!(ImageKind::sniff(&[]), None);
    }

    #[test]
    fn accepts_a_real_png_and_decodes_it() {
        let checked = check("front", png(40, 30), &config()).unwrap();
        assert_eq!((checked.kind, checked.width, checked.height), (ImageKind::Png, 40, 30));
        assert_eq!(checked.decode_luma(&config()).unwrap().dimensions(), (40, 30));
    }

    #[test]
    fn refuses_zip_tiny_huge_and_oversized() {
        let zip = b"PK\x03\x04\x14\x00\x00\x00".to_vec();
        assert_eq!(
            check("front", zip, &config()).unwrap_err(),
            ImageError::NotAnImage { side: "front" }
        );
        assert!(matches!(check("back", png(1, 1), &config()), Err(ImageError::TooSmall { .. })));
        assert!(matches!(
            check("back", png_header(30_000, 30_000), &config()),
            Err(ImageError::TooManyPixels { width: 30_000, height: 30_000, .. })
        ));
        let big = DriverConfig { max_image_bytes: 1024, ..config() };
        assert!(matches!(check("back", vec![0xFF; 1025], &big), Err(ImageError::TooLarge { .. })));
    }

    #[test]
    fn a_header_without_pixels_passes_the_check_but_not_decoding() {
        let checked = check("back", png_header(100, 100), &config()).unwrap();
        assert_eq!(
            checked.decode_luma(&config()).unwrap_err(),
            ImageError::Unreadable { side: "back" }
        );
        let mut truncated = png(50, 50);
        truncated.truncate(20);
        assert_eq!(
            check("front", truncated, &config()).unwrap_err(),
            ImageError::Unreadable { side: "front" }
        );
    }

    #[test]
    fn cut_short_jpegs_are_unreadable() {
        let mut jpeg = Vec::new();
        GrayImage::from_pixel(64, 64, image::Luma([128]))
            .write_to(&mut Cursor::new(&mut jpeg), ImageFormat::Jpeg)
            .unwrap();
        assert!(jpeg_is_complete(&jpeg));
        let mut trailer = jpeg.clone();
        trailer.extend(b"phone trailer");
        assert!(jpeg_is_complete(&trailer));
        for cut in [jpeg.len() - 1, jpeg.len() / 2, 10, 3] {
            assert!(!jpeg_is_complete(&jpeg[..cut]), "cut at {cut}");
            assert!(matches!(
                check("front", jpeg[..cut].to_vec(), &config()),
                Err(ImageError::Unreadable { .. })
            ));
        }
    }

    #[test]
    fn the_store_round_trips_sealed_files_and_refuses_foreign_names() {
        let dir = tempfile::tempdir().unwrap();
        let (_keys, pii) = crate::pii::cipher::test_cipher();
        let store = FileUploadStore::open(dir.path(), pii).unwrap();
        let image = png(20, 20);
        let (name, key_id) = store.put(&image).unwrap();
        assert_eq!((name.len(), key_id), (32, 1));
        assert_eq!(store.get(&name).unwrap(), image);
        let on_disk = fs::read(dir.path().join("uploads").join(&name)).unwrap();
        assert_ne!(on_disk, image);
        assert_eq!(ImageKind::sniff(&on_disk), None, "no image on disk");
        let mode = fs::metadata(dir.path().join("uploads").join(&name)).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode.permissions()) & 0o777, 0o600);
        for bad in ["../keys/pii.key", "", "ABCDEF", &"a".repeat(33)] {
            assert_eq!(store.get(bad).unwrap_err().kind(), io::ErrorKind::InvalidInput);
        }
        store.delete(&name).unwrap();
        store.delete(&name).unwrap();
        assert!(store.get(&name).is_err());
    }

    #[test]
    fn plain_files_from_before_sealing_are_read_and_resealed() {
        let dir = tempfile::tempdir().unwrap();
        let (_keys, pii) = crate::pii::cipher::test_cipher();
        let store = FileUploadStore::open(dir.path(), pii).unwrap();
        let image = png(20, 20);
        let name = "0123456789abcdef0123456789abcdef";
        fs::write(dir.path().join("uploads").join(name), &image).unwrap();
        let path = dir.path().join("uploads").join(name);
        assert_eq!(store.get(name).unwrap(), image);
        store.reseal(name, 1).unwrap();
        assert_eq!(cipher::key_id(&fs::read(&path).unwrap()), Ok(1));
        assert_eq!(store.get(name).unwrap(), image);
        assert!(store.reseal(name, 9).is_err(), "an unknown key id");
        assert_eq!(store.get(name).unwrap(), image, "a failed reseal leaves the file");
        // Neither sealed nor an image (damaged, or not ours): refused, not served.
        fs::write(dir.path().join("uploads").join(name), b"PK\x03\x04zip").unwrap();
        assert_eq!(store.get(name).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let (other, _) = store.put(&image).unwrap();
        let mut sealed = fs::read(dir.path().join("uploads").join(other)).unwrap();
        sealed.truncate(30);
        fs::write(dir.path().join("uploads").join(name), sealed).unwrap();
        assert_eq!(store.get(name).unwrap_err().kind(), io::ErrorKind::InvalidData);
        let gone = "fedcba9876543210fedcba9876543210";
        assert_eq!(store.reseal(gone, 1).unwrap_err().kind(), io::ErrorKind::NotFound);
        assert!(!dir.path().join("uploads").join(gone).exists(), "a reseal creates nothing");
    }
}
