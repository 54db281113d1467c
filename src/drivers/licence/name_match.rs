//! Comparing the name on a licence with the profile's legal name.
//!
//! Both names are normalised first: accents transliterated (deunicode), case folded,
//! punctuation and hyphens turned into spaces, so `Zoë O'Brien-Smith` and `ZOE OBRIEN SMITH`
//! become comparable. The score (0 to 1) is then about words, not their order (licences say
//! family name first, profiles often last): every word of the shorter name is paired with its
//! best match in the longer one (Jaro-Winkler, strsim), an initial matching any word with that
//! first letter. Extra middle names on one side cost nothing; but the family name on the
//! licence must be found in the profile name, or the score is capped below any sane threshold.

use deunicode::deunicode;
use strsim::jaro_winkler;

/// A family-name word counts as found from this similarity on.
const FAMILY_FOUND: f64 = 0.92;
/// The score when the licence's family name is not in the profile name.
const FAMILY_MISSING_CAP: f64 = 0.5;

/// Lowercase ASCII words, without punctuation. Apostrophes join (`O'Brien` -> `obrien`).
pub fn normalise(name: &str) -> Vec<String> {
    let ascii = deunicode(name).to_lowercase().replace(['\'', '`'], "");
    ascii
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

fn word_score(a: &str, b: &str) -> f64 {
    if a.len() == 1 || b.len() == 1 {
        // An initial stands for any word with that first letter.
        return if a.as_bytes()[0] == b.as_bytes()[0] { 1.0 } else { 0.0 };
    }
    jaro_winkler(a, b)
}

fn best(word: &str, among: &[String]) -> f64 {
    among.iter().map(|other| word_score(word, other)).fold(0.0, f64::max)
}

/// How alike the licence's name (family and given names) and the profile's legal name are,
/// from 0 (nothing alike) to 1 (the same after normalisation).
pub fn score(licence_family: &str, licence_given: &str, legal_name: &str) -> f64 {
    let family = normalise(licence_family);
    let licence: Vec<String> = family.iter().cloned().chain(normalise(licence_given)).collect();
    let profile = normalise(legal_name);
    if licence.is_empty() || profile.is_empty() {
        return 0.0;
    }
    // Joined family names ("de la cruz" vs "delacruz") compare as one word too.
    let joined_profile = profile.concat();
    let licence_is_short = licence.len() <= profile.len();
    let (short, long) = if licence_is_short { (&licence, &profile) } else { (&profile, &licence) };
    // Initials carry little information; full words decide, unless there are none.
    let full: Vec<&String> = short.iter().filter(|w| w.len() > 1).collect();
    let words: Vec<&String> = if full.is_empty() { short.iter().collect() } else { full };
    let mut candidates = long.clone();
    candidates.push(if licence_is_short { joined_profile.clone() } else { family.concat() });
    let mean = words.iter().map(|w| best(w, &candidates)).sum::<f64>() / words.len() as f64;
    let family_found = family.iter().all(|w| best(w, &profile) >= FAMILY_FOUND)
        || jaro_winkler(&family.concat(), &joined_profile) >= FAMILY_FOUND
        || profile.iter().any(|p| family.concat() == *p);
    let score = if family_found { mean } else { mean.min(FAMILY_MISSING_CAP) };
    // Two decimals is what is stored and shown.
    (score * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const THRESHOLD: f64 = 0.9;

    #[test]
    fn normalises_accents_case_and_punctuation() {
        assert_eq!(normalise("  Zoë O'Brien-Smith, Jr. "), vec!["zoe", "obrien", "smith", "jr"]);
        assert_eq!(normalise("ÉLODIE TREMBLAY"), vec!["elodie", "tremblay"]);
        assert_eq!(normalise("José  Müller"), vec!["jose", "muller"]);
        assert!(normalise("...").is_empty());
    }

    #[test]
    fn the_same_name_in_another_order_and_case_scores_one() {
        assert_eq!(score("GARCIA", "MARIA JOSE", "Maria José Garcia"), 1.0);
        assert_eq!(score("GARCIA", "MARIA JOSE", "garcia, maria jose"), 1.0);
    }

    #[test]
    fn accents_and_punctuation_only_differ_after_normalisation() {
        assert_eq!(score("OBRIEN SMITH", "ZOE", "Zoë O'Brien-Smith"), 1.0);
        assert_eq!(score("MULLER", "JURGEN", "Jürgen Müller"), 1.0);
    }

    #[test]
    fn middle_names_and_initials() {
        assert_eq!(score("GARCIA", "MARIA JOSE", "Maria Garcia"), 1.0, "middle name missing");
        assert_eq!(score("GARCIA", "MARIA J", "Maria José Garcia"), 1.0, "initial on the licence");
        assert_eq!(score("GARCIA", "MARIA JOSE", "Maria J. Garcia"), 1.0, "initial in the profile");
        assert!(
            score("GARCIA", "MARIA K", "Maria José Garcia") >= THRESHOLD,
            "initials do not decide"
        );
    }

    #[test]
    fn small_spelling_differences_pass_and_other_people_do_not() {
        assert!(score("SMITH", "JON", "John Smith") >= THRESHOLD);
        assert!(score("SMITH", "JOHN", "Maria Garcia") < 0.6);
        assert!(score("GARCIA", "JUAN", "Maria Garcia") < THRESHOLD, "same family, other person");
        assert!(
            score("SMITH", "MARIA", "Maria Garcia") < THRESHOLD,
            "same given name, other family"
        );
    }

    #[test]
    fn a_bare_given_name_is_not_enough() {
        assert!(score("GARCIA", "MARIA", "Maria") < THRESHOLD);
    }

    #[test]
    fn joined_family_names() {
        assert!(score("DE LA CRUZ", "ANA", "Ana Delacruz") >= THRESHOLD);
    }

    #[test]
    fn empty_names_score_zero() {
        assert_eq!(score("", "", "Maria Garcia"), 0.0);
        assert_eq!(score("GARCIA", "MARIA", " "), 0.0);
    }
}
