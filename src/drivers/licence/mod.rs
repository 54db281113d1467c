//! Reading a licence: the AAMVA barcode payload ([`aamva`]) decoded from the back's PDF417
//! ([`barcode`]), the front's printed text ([`ocr`]), the front compared with the barcode
//! ([`front_check`]) and the name on the licence against the profile's ([`name_match`]).

pub mod aamva;
pub mod barcode;
pub mod front_check;
pub mod name_match;
pub mod ocr;
