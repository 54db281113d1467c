//! The AAMVA DL/ID card data parser: the text inside the PDF417 barcode on the back of North
//! American driving licences.
//!
//! A payload is a header (`@`, LF, RS, CR, `ANSI ` or `AAMVA`, the issuer's six-digit IIN, the
//! standard version, from version 2 the jurisdiction version, the number of subfiles), then one
//! ten-character designator per subfile (type, offset, length) and the subfiles themselves: each
//! starts with its type (`DL`, `ID`) and holds elements, a three-letter id and a value, one per
//! line. Real cards stray from the standard, so the parser is lenient where issuers are known to
//! be: separators replaced, offsets off by one, a subfile found by its type when the offset is
//! wrong, version 1 full names (`DAA`), version 2 given names (`DCT`), `NONE`/`unavl` values,
//! and dates as `MMDDCCYY` (US) or `CCYYMMDD` (Canada and version 1). It never panics on any
//! input (see the fuzz target `fuzz/fuzz_targets/aamva.rs`).

use chrono::NaiveDate;

/// The fields Gatehouse needs from a licence, whatever they were read from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenceFields {
    pub family_name: Option<String>,
    /// Given names in order, middle names included, separated by spaces.
    pub given_names: Option<String>,
    pub licence_number: Option<String>,
    pub expiry: Option<NaiveDate>,
    pub birth_date: Option<NaiveDate>,
    /// The jurisdiction (`NY`, `ON`) when the card says it, else `IIN <number>`.
    pub issuer: Option<String>,
}

impl LicenceFields {
    /// Fields a reviewer would need that could not be read, by name.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.family_name.is_none() {
            missing.push("family name");
        }
        if self.given_names.is_none() {
            missing.push("given names");
        }
        if self.licence_number.is_none() {
            missing.push("licence number");
        }
        if self.expiry.is_none() {
            missing.push("expiry date");
        }
        if self.birth_date.is_none() {
            missing.push("birth date");
        }
        missing
    }
}

/// A parsed payload: the fields, and what was wrong with the ones that could not be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub fields: LicenceFields,
    pub version: u8,
    pub iin: String,
    /// Human-readable notes about unusable values ("expiry date 02302030 is not a date").
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AamvaError {
    #[error("the barcode does not hold AAMVA licence data (no ANSI/AAMVA header)")]
    NotAamva,
    #[error("the barcode's AAMVA header is cut short or malformed")]
    BadHeader,
    #[error("the barcode holds no driving licence or ID card subfile")]
    NoLicenceSubfile,
}

const LF: char = '\n';
const RS: char = '\x1e';
const CR: char = '\r';

/// Longest payload looked at; real ones are under 1 KB.
const MAX_PAYLOAD: usize = 16 * 1024;

/// Parses an AAMVA payload (the barcode's text).
pub fn parse(payload: &str) -> Result<Parsed, AamvaError> {
    let payload = if payload.len() > MAX_PAYLOAD {
        let mut end = MAX_PAYLOAD;
        while !payload.is_char_boundary(end) {
            end -= 1;
        }
        &payload[..end]
    } else {
        payload
    };
    let header = Header::parse(payload)?;
    let subfile = find_subfile(payload, &header).ok_or(AamvaError::NoLicenceSubfile)?;
    let elements = elements(subfile);
    let mut problems = Vec::new();
    let fields = fields(&elements, &header, &mut problems);
    Ok(Parsed { fields, version: header.version, iin: header.iin.clone(), problems })
}

struct Header {
    /// Byte index just after the header (where the designators start).
    designators_at: usize,
    iin: String,
    version: u8,
    entries: usize,
    /// Byte index of the file type (`ANSI `), from which offsets are counted.
    start: usize,
}

impl Header {
    fn parse(payload: &str) -> Result<Self, AamvaError> {
        // The compliance indicator and separators come first; some issuers send other
        // separator bytes, some scanners drop them. Find the file type in the first bytes.
        let head_end = payload.len().min(32);
        let head = payload.get(..head_end).unwrap_or(payload);
        let (start, type_len) = match (head.find("ANSI "), head.find("AAMVA")) {
            (Some(i), _) => (i, 5),
            (None, Some(i)) => (i, 5),
            (None, None) => {
                // "ANSI" without its space is seen on some cards.
                match head.find("ANSI") {
                    Some(i) => (i, 4),
                    None => return Err(AamvaError::NotAamva),
                }
            }
        };
        let rest = &payload[start + type_len..];
        let digits = |s: &str, n: usize| -> Option<String> {
            let part = s.get(..n)?;
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.to_string())
        };
        let iin = digits(rest, 6).ok_or(AamvaError::BadHeader)?;
        let version: u8 = digits(&rest[6..], 2).ok_or(AamvaError::BadHeader)?.parse().unwrap_or(0);
        // Version 1 has no jurisdiction version: IIN, version, entries. Later ones insert it.
        let (entries_at, designators_at) = if version <= 1 { (8, 10) } else { (10, 12) };
        let entries: usize = rest
            .get(entries_at..entries_at + 2)
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .ok_or(AamvaError::BadHeader)?
            .parse()
            .unwrap_or(0);
        Ok(Self {
            designators_at: start + type_len + designators_at,
            iin,
            version,
            entries: entries.min(20),
            start,
        })
    }
}

/// The DL or ID subfile's text (from its type to the end of the subfile).
fn find_subfile<'a>(payload: &'a str, header: &Header) -> Option<&'a str> {
    for n in 0..header.entries.max(1) {
        let at = header.designators_at + n * 10;
        let Some(designator) = payload.get(at..at + 10) else { break };
        let Some(kind) = designator.get(..2).filter(|k| *k == "DL" || *k == "ID") else {
            continue;
        };
        let offset: Option<usize> = designator.get(2..6).and_then(|o| o.parse().ok());
        let Some(offset) = offset else { continue };
        // Offsets count from the start of the payload; some issuers count from the file type,
        // some are one off either way. Take the first candidate where the subfile type is.
        let shift = header.start;
        let candidates = [offset, offset + 1, offset.saturating_sub(1), offset + shift];
        for candidate in candidates {
            if payload.get(candidate..candidate + 2) == Some(kind) {
                return Some(subfile_from(payload, candidate + 2));
            }
        }
        // Offset unusable: the subfile normally follows the designators.
        let after = header.designators_at + header.entries * 10;
        if let Some(found) = payload.get(after..).and_then(|s| s.find(kind)) {
            return Some(subfile_from(payload, after + found + 2));
        }
    }
    // No usable designator at all: look for the first element of a DL subfile.
    let after = header.designators_at.min(payload.len());
    let tail = &payload[after..];
    ["DLDAQ", "DLDCA", "DLDAA", "DLDCS", "IDDAQ", "IDDCS"]
        .iter()
        .filter_map(|marker| tail.find(marker))
        .min()
        .map(|i| subfile_from(payload, after + i + 2))
}

fn subfile_from(payload: &str, from: usize) -> &str {
    let text = payload.get(from..).unwrap_or("");
    // A subfile ends with CR; the next subfile (a jurisdiction's Z.. one) may follow.
    match text.find(CR) {
        Some(end) => &text[..end],
        None => text,
    }
}

/// Element id and value pairs, in order. Values are trimmed.
fn elements(subfile: &str) -> Vec<(&str, &str)> {
    subfile
        .split([LF, RS, CR])
        .filter_map(|line| {
            let line = line.trim_start();
            let id = line.get(..3)?;
            if !(id.starts_with('D') && id.bytes().all(|b| b.is_ascii_uppercase())) {
                return None;
            }
            Some((id, line[3..].trim()))
        })
        .collect()
}

/// A value that says "nothing here".
fn meaningful(value: &str) -> Option<&str> {
    let v = value.trim();
    let upper = v.to_ascii_uppercase();
    match upper.as_str() {
        "" | "NONE" | "UNAVL" | "UNAVAIL" | "UNAVAILABLE" | "N/A" | "NA" | "UNK" | "UNKNOWN" => {
            None
        }
        _ => Some(v),
    }
}

fn first<'a>(elements: &[(&'a str, &'a str)], id: &str) -> Option<&'a str> {
    elements.iter().find(|(i, _)| *i == id).and_then(|(_, v)| meaningful(v))
}

/// Collapses runs of spaces and trims separators.
fn clean_name(s: &str) -> Option<String> {
    let joined = s
        .split(|c: char| c.is_whitespace() || c == ',' || c == '$')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    meaningful(&joined).map(str::to_string)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum DateOrder {
    /// MMDDCCYY
    Us,
    /// CCYYMMDD
    Canada,
}

fn fields(elements: &[(&str, &str)], header: &Header, problems: &mut Vec<String>) -> LicenceFields {
    let country = match first(elements, "DCG").map(|c| c.to_ascii_uppercase()) {
        Some(c) if c == "CAN" => Some(DateOrder::Canada),
        Some(c) if c == "USA" => Some(DateOrder::Us),
        _ if header.version <= 1 => Some(DateOrder::Canada),
        _ if is_canadian_iin(&header.iin) => Some(DateOrder::Canada),
        _ => None,
    };

    let mut family_name =
        first(elements, "DCS").or_else(|| first(elements, "DAB")).and_then(clean_name);
    let mut given = match (first(elements, "DAC"), first(elements, "DCT")) {
        (Some(first_name), _) => {
            let middle = first(elements, "DAD");
            clean_name(&format!("{first_name} {}", middle.unwrap_or("")))
        }
        (None, Some(given)) => clean_name(given),
        (None, None) => None,
    };
    if (family_name.is_none() || given.is_none())
        && let Some(full) = first(elements, "DAA")
    {
        let (f, g) = split_full_name(full);
        family_name = family_name.or(f);
        given = given.or(g);
    }

    let mut date = |id: &str, label: &str| -> Option<NaiveDate> {
        let raw = first(elements, id)?;
        let parsed = parse_date(raw, country);
        if parsed.is_none() {
            problems.push(format!("{label} {raw:?} is not a date"));
        }
        parsed
    };
    let expiry = date("DBA", "expiry date");
    let birth_date = date("DBB", "birth date");

    let licence_number = first(elements, "DAQ")
        .map(|n| n.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|n| !n.is_empty() && n.len() <= 40);
    let issuer = first(elements, "DAJ")
        .filter(|j| j.len() == 2 && j.bytes().all(|b| b.is_ascii_alphabetic()))
        .map(|j| j.to_ascii_uppercase())
        .or_else(|| Some(format!("IIN {}", header.iin)));

    LicenceFields { family_name, given_names: given, licence_number, expiry, birth_date, issuer }
}

/// Version 1's full name: `FAMILY,GIVEN,MIDDLE` (commas or `$`), or without separators
/// `GIVEN MIDDLE FAMILY`.
fn split_full_name(full: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> =
        full.split([',', '$']).map(str::trim).filter(|p| !p.is_empty()).collect();
    match parts.as_slice() {
        [] => (None, None),
        [only] => {
            let words: Vec<&str> = only.split_whitespace().collect();
            match words.split_last() {
                Some((last, rest)) if !rest.is_empty() => {
                    (clean_name(last), clean_name(&rest.join(" ")))
                }
                _ => (clean_name(only), None),
            }
        }
        [family, given @ ..] => (clean_name(family), clean_name(&given.join(" "))),
    }
}

/// Canadian issuers' IINs (their dates are CCYYMMDD).
fn is_canadian_iin(iin: &str) -> bool {
    matches!(
        iin,
        "604427"
            | "604428"
            | "604429"
            | "604430"
            | "604431"
            | "604432"
            | "604433"
            | "636012"
            | "636013"
            | "636016"
            | "636017"
            | "636028"
            | "636044"
            | "636048"
    )
}

/// An eight-digit date. With a known order only that order is tried; without one the order
/// whose year is plausible wins (a month can never look like a 19xx/20xx year).
pub(crate) fn parse_date(raw: &str, order: Option<DateOrder>) -> Option<NaiveDate> {
    if raw.len() != 8 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = raw;
    let n = |a: usize, b: usize| digits[a..b].parse::<u32>().ok();
    let us = || {
        let year = n(4, 8)? as i32;
        plausible(year).then(|| NaiveDate::from_ymd_opt(year, n(0, 2)?, n(2, 4)?))?
    };
    let canada = || {
        let year = n(0, 4)? as i32;
        plausible(year).then(|| NaiveDate::from_ymd_opt(year, n(4, 6)?, n(6, 8)?))?
    };
    match order {
        Some(DateOrder::Us) => us(),
        Some(DateOrder::Canada) => canada(),
        None => us().or_else(canada),
    }
}

fn plausible(year: i32) -> bool {
    (1900..=2199).contains(&year)
}

#[cfg(test)]
mod tests;
