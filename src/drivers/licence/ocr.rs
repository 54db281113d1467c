//! OCR of a licence's front with the `tesseract` program, for when the barcode cannot be read.
//! At most [`MAX_RUNS_AT_ONCE`] runs at a time ([`Ocr`]); more uploads wait their turn.
//! The program runs with a time limit on a private temporary copy of the image; its text is
//! searched for the fields printed on AAMVA-style cards: numbered fields (`1` family name,
//! `2` given names, `3` birth date, `4b` expiry, `4d` licence number) or their labels (`LN`,
//! `FN`, `DOB`, `EXP`, `DLN`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::NaiveDate;
use tokio::sync::Semaphore;

use super::aamva::LicenceFields;

/// Tesseract runs at once, server-wide. Each run takes a core for seconds (one thread:
/// `OMP_THREAD_LIMIT=1`) and a hundred MB or more; it is a child process, outside the bounded
/// blocking pools, so without this a burst of uploads would start one per upload and take
/// every core from sign-ins. Two keep OCR going while one run waits on its timeout, on the
/// small machines Gatehouse is sized for.
pub const MAX_RUNS_AT_ONCE: usize = 2;

/// The OCR program and the permits that bound its runs.
#[derive(Debug)]
pub struct Ocr {
    program: PathBuf,
    runs: Semaphore,
}

impl Ocr {
    pub fn new(program: PathBuf) -> Self {
        Self { program, runs: Semaphore::new(MAX_RUNS_AT_ONCE) }
    }

    /// [`read_text`] once a run is free: the caller waits for its turn (the time limit counts
    /// from the start of the run, not of the wait).
    pub async fn read(&self, image: &[u8], timeout_seconds: u64) -> Result<String, OcrError> {
        let _run = self.runs.acquire().await.map_err(std::io::Error::other)?;
        read_text(&self.program, image, timeout_seconds).await
    }
}

/// The OCR program named in the configuration: a path, or a name looked up on PATH. `None`
/// when OCR is off or the program is not installed.
pub fn find_program(configured: &str) -> Option<PathBuf> {
    let configured = configured.trim();
    if configured.is_empty() {
        return None;
    }
    if configured.contains('/') {
        let path = PathBuf::from(configured);
        return is_executable(&path).then_some(path);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths).map(|dir| dir.join(configured)).find(|p| is_executable(p))
    })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("OCR could not start: {0}")]
    Io(#[from] std::io::Error),
    #[error("OCR took longer than {0} seconds")]
    Timeout(u64),
    #[error("OCR failed with {0}")]
    Failed(std::process::ExitStatus),
}

/// Runs `program` on the image bytes and returns the text it read.
pub async fn read_text(
    program: &Path,
    image: &[u8],
    timeout_seconds: u64,
) -> Result<String, OcrError> {
    let dir = tempfile::Builder::new().prefix("gatehouse-ocr").tempdir()?;
    let input = dir.path().join("front");
    tokio::fs::write(&input, image).await?;
    let child = tokio::process::Command::new(program)
        .arg(&input)
        .arg("stdout")
        .args(["--psm", "4", "-l", "eng"])
        .env("OMP_THREAD_LIMIT", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let output =
        tokio::time::timeout(Duration::from_secs(timeout_seconds), child.wait_with_output())
            .await
            .map_err(|_| OcrError::Timeout(timeout_seconds))??;
    if !output.status.success() {
        return Err(OcrError::Failed(output.status));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The licence fields found in OCR text.
pub fn fields_from_text(text: &str) -> LicenceFields {
    let mut fields = LicenceFields::default();
    for line in text.lines() {
        let line = line.trim().to_uppercase();
        let (label, rest) = split_label(&line);
        match label {
            Some("1") | Some("LN") => fields.family_name = fields.family_name.take().or(name(rest)),
            Some("2") | Some("FN") => fields.given_names = fields.given_names.take().or(name(rest)),
            _ => {}
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if has_word(&words, &["DLN", "DL", "LIC", "LICENCE", "LICENSE", "4D"])
            && fields.licence_number.is_none()
        {
            fields.licence_number = licence_number(&words);
        }
        if has_word(&words, &["EXP", "EXPIRES", "4B"]) && fields.expiry.is_none() {
            fields.expiry = words.iter().find_map(|w| date(w));
        }
        if has_word(&words, &["DOB", "3"]) && fields.birth_date.is_none() {
            fields.birth_date = words.iter().find_map(|w| date(w));
        }
        if has_word(&words, &["ISS", "4A"]) && fields.issuer.is_none() {
            fields.issuer = words
                .iter()
                .skip_while(|w| !matches!(**w, "ISS" | "4A"))
                .skip(1)
                .find(|w| w.len() == 2 && w.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(|w| w.to_string());
        }
    }
    fields
}

fn has_word(words: &[&str], any: &[&str]) -> bool {
    words.iter().any(|w| any.contains(&w.trim_end_matches([':', '.'])))
}

/// A leading field number or label and the rest of the line.
fn split_label(line: &str) -> (Option<&str>, &str) {
    let mut parts = line.splitn(2, char::is_whitespace);
    let first = parts.next().unwrap_or("").trim_end_matches(['.', ':']);
    let rest = parts.next().unwrap_or("").trim();
    match first {
        "1" | "2" | "LN" | "FN" => (Some(first), rest),
        _ => (None, line),
    }
}

fn name(rest: &str) -> Option<String> {
    let cleaned: Vec<&str> = rest
        .split(|c: char| !(c.is_alphabetic() || c == '-' || c == '\''))
        .filter(|w| !w.is_empty())
        .collect();
    (!cleaned.is_empty()).then(|| cleaned.join(" "))
}

/// The licence number: the words after the label, joined (`123 456 789` -> `123456789`).
fn licence_number(words: &[&str]) -> Option<String> {
    let labels = ["DLN", "LIC", "LICENCE", "LICENSE", "4D", "NO", "NO.", "#", "DL"];
    let start = words.iter().rposition(|w| labels.contains(&w.trim_end_matches(':')))? + 1;
    let number: String = words[start..]
        .iter()
        .take_while(|w| w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        .flat_map(|w| w.chars().filter(|c| c.is_ascii_alphanumeric()))
        .collect();
    (number.len() >= 4 && number.bytes().any(|b| b.is_ascii_digit()) && number.len() <= 40)
        .then_some(number)
}

/// `MM/DD/YYYY` (US), `YYYY/MM/DD` (Canada), with `/`, `-` or `.` between the parts.
fn date(word: &str) -> Option<NaiveDate> {
    let parts: Vec<&str> =
        word.trim_matches(|c: char| !c.is_ascii_digit()).split(['/', '-', '.']).collect();
    let [a, b, c] = parts.as_slice() else { return None };
    if !parts.iter().all(|p| !p.is_empty() && p.bytes().all(|x| x.is_ascii_digit())) {
        return None;
    }
    let n = |s: &str| s.parse::<u32>().ok();
    let (year, month, day) = if a.len() == 4 {
        (n(a)?, n(b)?, n(c)?)
    } else if c.len() == 4 {
        (n(c)?, n(a)?, n(b)?)
    } else {
        return None;
    };
    if !(1900..=2199).contains(&year) {
        return None;
    }
    NaiveDate::from_ymd_opt(year as i32, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FRONT: &str = "NEW YORK STATE\nDRIVER LICENSE\n4d DLN 123 456 789\n1 GARCIA\n2 MARIA JOSE\n\
                         3 DOB 01/02/1999\n4b EXP 03/15/2031\n4a ISS NY\n";

    #[test]
    fn reads_numbered_fields() {
        let f = fields_from_text(FRONT);
        assert_eq!(f.family_name.as_deref(), Some("GARCIA"));
        assert_eq!(f.given_names.as_deref(), Some("MARIA JOSE"));
        assert_eq!(f.licence_number.as_deref(), Some("123456789"));
        assert_eq!(f.birth_date, NaiveDate::from_ymd_opt(1999, 1, 2));
        assert_eq!(f.expiry, NaiveDate::from_ymd_opt(2031, 3, 15));
        assert_eq!(f.issuer.as_deref(), Some("NY"));
    }

    #[test]
    fn reads_labels_and_canadian_dates() {
        let f = fields_from_text(
            "LN: TREMBLAY\nFN: Élodie\nDL NO: T1234-56789\nDOB 1999-01-02\nEXP: 2031/03/15\n",
        );
        assert_eq!(f.family_name.as_deref(), Some("TREMBLAY"));
        assert_eq!(f.given_names.as_deref(), Some("ÉLODIE"));
        assert_eq!(f.licence_number.as_deref(), Some("T123456789"));
        assert_eq!(f.expiry, NaiveDate::from_ymd_opt(2031, 3, 15));
        assert_eq!(f.birth_date, NaiveDate::from_ymd_opt(1999, 1, 2));
    }

    #[test]
    fn noise_gives_nothing() {
        let f = fields_from_text("~~ ## 0/0/0 EXP 02/30/2030 DOB 13/13/13 DLN ab\n1 \n");
        assert_eq!(f, LicenceFields::default());
        assert_eq!(fields_from_text(""), LicenceFields::default());
    }

    #[test]
    fn finds_programs_on_path_or_by_path() {
        assert!(find_program("").is_none());
        assert!(find_program("definitely-not-an-ocr-program").is_none());
        assert!(find_program("/nonexistent/tesseract").is_none());
        assert_eq!(
            find_program("sh").is_some(),
            Path::new("/bin/sh").exists() || Path::new("/usr/bin/sh").exists()
        );
    }
}
