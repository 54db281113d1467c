//! Moved to `tests/it/support/licence_images.rs`. Only `src/driver/barcode.rs`'s unit tests
//! still load this path with `#[path]`; once that points at the new file, delete this one.

#[path = "../it/support/licence_images.rs"]
mod moved;

pub use moved::*;
