//! Payload shapes the parser must read, and the ones it must refuse.

use super::*;

fn date(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Builds a payload with correct designators for `elements` (one DL subfile).
fn payload(iin: &str, version: &str, elements: &[&str]) -> String {
    let body = format!("DL{}\r", elements.join("\n"));
    let header_len = if version == "01" { 5 + 4 + 6 + 2 + 2 } else { 5 + 4 + 6 + 2 + 2 + 2 };
    let offset = header_len + 10;
    let jur = if version == "01" { "" } else { "00" };
    format!("@\n\x1e\rANSI {iin}{version}{jur}01DL{offset:04}{:04}{body}", body.len())
}

const CURRENT: &[&str] = &[
    "DAQD12345678",
    "DCSGARCIA",
    "DACMARIA",
    "DADJOSE",
    "DBA03152031",
    "DBB01021999",
    "DAJNY",
    "DCGUSA",
];

#[test]
fn parses_a_current_us_licence() {
    let parsed = parse(&payload("636001", "10", CURRENT)).unwrap();
    assert_eq!(parsed.version, 10);
    assert_eq!(parsed.iin, "636001");
    let f = parsed.fields;
    assert_eq!(f.family_name.as_deref(), Some("GARCIA"));
    assert_eq!(f.given_names.as_deref(), Some("MARIA JOSE"));
    assert_eq!(f.licence_number.as_deref(), Some("D12345678"));
    assert_eq!(f.expiry, date(2031, 3, 15));
    assert_eq!(f.birth_date, date(1999, 1, 2));
    assert_eq!(f.issuer.as_deref(), Some("NY"));
    assert!(f.missing().is_empty());
    assert!(parsed.problems.is_empty());
}

#[test]
fn canadian_dates_are_ccyymmdd() {
    let p = payload(
        "636012",
        "08",
        &[
            "DAQX1234-56789",
            "DCSTREMBLAY",
            "DACÉLODIE",
            "DBA20310315",
            "DBB19990102",
            "DAJON",
            "DCGCAN",
        ],
    );
    let f = parse(&p).unwrap().fields;
    assert_eq!(f.expiry, date(2031, 3, 15));
    assert_eq!(f.birth_date, date(1999, 1, 2));
    assert_eq!(f.given_names.as_deref(), Some("ÉLODIE"));
    assert_eq!(f.issuer.as_deref(), Some("ON"));
}

#[test]
fn canadian_iin_without_country_uses_ccyymmdd() {
    let p = payload("636028", "06", &["DAQ1234567", "DCSLEE", "DACANN", "DBA20300101"]);
    assert_eq!(parse(&p).unwrap().fields.expiry, date(2030, 1, 1));
}

#[test]
fn unknown_country_guesses_from_the_plausible_year() {
    let p = payload("636999", "09", &["DAQ1", "DCSLEE", "DACANN", "DBA12312030", "DBB19800704"]);
    let f = parse(&p).unwrap().fields;
    assert_eq!(f.expiry, date(2030, 12, 31));
    assert_eq!(f.birth_date, date(1980, 7, 4));
    assert_eq!(f.issuer.as_deref(), Some("IIN 636999"));
}

#[test]
fn version_1_full_name_and_ccyymmdd_dates() {
    let p = payload(
        "636000",
        "01",
        &["DAQ99 88 77", "DAASMITH,JOHN,QUINCY", "DBA20301231", "DBB19750101"],
    );
    let parsed = parse(&p).unwrap();
    assert_eq!(parsed.version, 1);
    let f = parsed.fields;
    assert_eq!(f.family_name.as_deref(), Some("SMITH"));
    assert_eq!(f.given_names.as_deref(), Some("JOHN QUINCY"));
    assert_eq!(f.licence_number.as_deref(), Some("998877"), "spaces dropped");
    assert_eq!(f.expiry, date(2030, 12, 31));
}

#[test]
fn full_name_with_dollar_signs_or_spaces_only() {
    assert_eq!(split_full_name("SMITH$JOHN$Q"), (Some("SMITH".into()), Some("JOHN Q".into())));
    assert_eq!(split_full_name("JOHN Q SMITH"), (Some("SMITH".into()), Some("JOHN Q".into())));
    assert_eq!(split_full_name("CHER"), (Some("CHER".into()), None));
    assert_eq!(split_full_name(" , "), (None, None));
}

#[test]
fn version_2_given_names_in_dct() {
    let p =
        payload("636020", "02", &["DAQ5", "DCSNGUYEN", "DCTTHI,MAI", "DBA06302029", "DBB02291996"]);
    let f = parse(&p).unwrap().fields;
    assert_eq!(f.given_names.as_deref(), Some("THI MAI"));
    assert_eq!(f.birth_date, date(1996, 2, 29), "a real leap day");
}

#[test]
fn none_and_unavl_values_are_absent() {
    let p = payload(
        "636001",
        "10",
        &["DAQD1", "DCSDOE", "DACJANE", "DADNONE", "DBAunavl", "DBB01011990"],
    );
    let f = parse(&p).unwrap().fields;
    assert_eq!(f.given_names.as_deref(), Some("JANE"));
    assert_eq!(f.expiry, None);
    assert_eq!(f.missing(), vec!["expiry date"]);
}

#[test]
fn impossible_dates_are_reported_not_guessed() {
    let p = payload(
        "636001",
        "10",
        &["DAQD1", "DCSDOE", "DACJANE", "DBA02302030", "DBB13011990", "DCGUSA"],
    );
    let parsed = parse(&p).unwrap();
    assert_eq!(parsed.fields.expiry, None);
    assert_eq!(parsed.fields.birth_date, None);
    assert_eq!(parsed.problems.len(), 2);
    assert!(parsed.problems[0].contains("02302030"));
}

#[test]
fn dates_with_letters_or_wrong_length_are_refused() {
    assert_eq!(parse_date("0315203", Some(DateOrder::Us)), None);
    assert_eq!(parse_date("03152O31", None), None);
    assert_eq!(parse_date("031520311", None), None);
    assert_eq!(parse_date("00000000", None), None);
    assert_eq!(parse_date("03/15/2031", None), None, "ten characters is not eight digits");
    assert_eq!(parse_date("20310315", Some(DateOrder::Us)), None, "no month 20");
}

#[test]
fn offsets_one_off_either_way_still_find_the_subfile() {
    let good = payload("636001", "10", CURRENT);
    let offset: usize = good[23..27].parse().unwrap();
    for wrong in [offset + 1, offset - 1] {
        // Shift the data rather than the designator so the offset is really wrong.
        let (head, body) = good.split_at(offset);
        let shifted = if wrong > offset {
            format!("{head}X{body}")
        } else {
            format!("{}{body}", &head[..head.len() - 1])
        };
        let f = parse(&shifted).unwrap().fields;
        assert_eq!(f.licence_number.as_deref(), Some("D12345678"), "{shifted:?}");
    }
}

/// A DL designator first and a jurisdiction (ZN) designator second, with the ZN subfile placed
/// before the DL one and holding a stray "DL": searching for the subfile type finds the stray
/// one, so only the offset (or its one-off candidates) finds the licence. `shift` moves the DL
/// subfile that many bytes away from where its offset says.
fn stray_dl_before_the_subfile(shift: isize) -> String {
    let zn = "ZNZNBDLDAQWRONG\r";
    // Header: "@\n\x1e\r" (4), "ANSI " (5), IIN (6), version, jurisdiction version and
    // entries (2 each): 21 bytes, then two designators.
    let designators_end = 21 + 20;
    let dl = format!("DL{}\r", CURRENT.join("\n"));
    let zn_at = designators_end;
    let dl_at = zn_at + zn.len();
    let stated = dl_at.checked_add_signed(-shift).unwrap();
    let head = format!(
        "@\n\x1e\rANSI 636001100002DL{stated:04}{:04}ZN{zn_at:04}{:04}",
        dl.len(),
        zn.len()
    );
    assert_eq!(head.len(), designators_end);
    format!("{head}{zn}{dl}")
}

#[test]
fn a_stray_dl_in_an_earlier_subfile_does_not_beat_a_one_off_offset() {
    // Exact offset first, so the builder is right.
    let exact = stray_dl_before_the_subfile(0);
    let f = parse(&exact).unwrap().fields;
    assert_eq!(f.licence_number.as_deref(), Some("D12345678"), "{exact:?}");
    for shift in [1, -1] {
        let p = stray_dl_before_the_subfile(shift);
        let stated: usize = p[23..27].parse().unwrap();
        assert_ne!(&p[stated..stated + 2], "DL", "the offset is really wrong: {p:?}");
        assert!(p[41..].find("DL").unwrap() + 41 < stated - 1, "the stray DL comes first: {p:?}");
        let f = parse(&p).unwrap().fields;
        assert_eq!(f.licence_number.as_deref(), Some("D12345678"), "shift {shift}: {p:?}");
        assert_eq!(f.family_name.as_deref(), Some("GARCIA"), "shift {shift}");
    }
}

#[test]
fn an_aamva_file_type_and_ansi_without_its_space_are_read() {
    // Older cards say "AAMVA" where current ones say "ANSI ", in the same five bytes.
    let aamva = payload("636001", "01", CURRENT).replacen("ANSI ", "AAMVA", 1);
    let parsed = parse(&aamva).unwrap();
    assert_eq!((parsed.iin.as_str(), parsed.version), ("636001", 1));
    assert!(parsed.fields.missing().is_empty(), "{:?}", parsed.fields);
    // "ANSI" without the space: the IIN starts one byte earlier, and the issuer's offsets
    // count from a payload one byte shorter.
    let good = payload("636001", "10", CURRENT);
    let offset: usize = good[23..27].parse().unwrap();
    let spaceless = good.replacen("ANSI ", "ANSI", 1).replacen(
        &format!("DL{offset:04}"),
        &format!("DL{:04}", offset - 1),
        1,
    );
    let parsed = parse(&spaceless).unwrap();
    assert_eq!((parsed.iin.as_str(), parsed.version), ("636001", 10));
    assert_eq!(parsed.fields.licence_number.as_deref(), Some("D12345678"));
    assert!(parsed.fields.missing().is_empty(), "{:?}", parsed.fields);
}

#[test]
fn nonsense_offsets_fall_back_to_searching() {
    let good = payload("636001", "10", CURRENT);
    let broken = format!("{}9999{}", &good[..23], &good[27..]);
    assert_eq!(parse(&broken).unwrap().fields.family_name.as_deref(), Some("GARCIA"));
}

#[test]
fn other_separators_and_a_missing_compliance_indicator() {
    let good = payload("636001", "10", CURRENT);
    let odd = good.replacen("@\n\x1e\r", "@\n\x1c\r", 1);
    assert!(parse(&odd).unwrap().fields.missing().is_empty());
    // A scanner that drops the leading control characters: offsets now point 4 bytes early.
    let stripped = good.trim_start_matches(['@', '\n', '\x1e', '\r']);
    assert!(parse(stripped).unwrap().fields.missing().is_empty());
}

#[test]
fn subfile_ends_at_cr_and_jurisdiction_subfiles_are_ignored() {
    let p = format!("{}ZNZNADAQWRONG\nZNBDCSWRONG\r", payload("636001", "10", CURRENT));
    let f = parse(&p).unwrap().fields;
    assert_eq!(f.licence_number.as_deref(), Some("D12345678"));
    assert_eq!(f.family_name.as_deref(), Some("GARCIA"));
}

#[test]
fn id_cards_parse_too() {
    let p = payload("636001", "10", CURRENT).replace("DL0", "ID0").replacen("DLDAQ", "IDDAQ", 1);
    assert_eq!(parse(&p).unwrap().fields.licence_number.as_deref(), Some("D12345678"));
}

#[test]
fn wrong_header_is_not_aamva() {
    assert_eq!(parse("hello world"), Err(AamvaError::NotAamva));
    assert_eq!(parse(""), Err(AamvaError::NotAamva));
    assert_eq!(parse("@\n\x1e\rANSI 63"), Err(AamvaError::BadHeader));
    assert_eq!(parse("@\n\x1e\rANSI 63600X100001"), Err(AamvaError::BadHeader));
    assert_eq!(parse("@\n\x1e\rANSI 6360011000"), Err(AamvaError::BadHeader));
}

#[test]
fn header_without_a_licence_subfile() {
    let p = "@\n\x1e\rANSI 636001100001ZN00310010ZNZNAX\r";
    assert_eq!(parse(p), Err(AamvaError::NoLicenceSubfile));
}

#[test]
fn garbage_after_a_good_header_gives_missing_fields_not_a_panic() {
    let p = "@\n\x1e\rANSI 636001100001DL00310010DL\u{0}\u{ff}é€𝄞\n\nD\nDA";
    let parsed = parse(p).unwrap();
    assert_eq!(parsed.fields.missing().len(), 5);
}

#[test]
fn multibyte_text_at_designator_positions_does_not_panic() {
    for s in ["ANSI 636001100001ééééééééééé", "ANSI 636001010001é", "ANSI 6360010101DLéé"]
    {
        let _ = parse(s);
    }
    let long = format!("ANSI 636001100001DL00310010{}", "é".repeat(20_000));
    let _ = parse(&long);
}

#[test]
fn empty_or_overlong_licence_numbers_are_absent() {
    let p = payload("636001", "10", &["DAQ", "DCSDOE"]);
    assert_eq!(parse(&p).unwrap().fields.licence_number, None);
    let long = format!("DAQ{}", "9".repeat(41));
    let p = payload("636001", "10", &[&long, "DCSDOE"]);
    assert_eq!(parse(&p).unwrap().fields.licence_number, None);
}
