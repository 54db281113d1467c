//! Email addresses: trimmed and lower-cased before storage and lookup, then checked for a
//! shape mail servers accept. Only ASCII addresses are taken (campus mail systems rarely
//! accept others). Plus-addressing is kept as written: `ada+rides@` is its own address.

pub const MAX_LEN: usize = 254;

pub fn normalize(raw: &str) -> String {
    raw.trim().to_lowercase()
}

/// Why an already-normalised address is not acceptable, or `None` when it is.
pub fn problem(email: &str) -> Option<&'static str> {
    if email.is_empty() {
        return Some("Enter your email address.");
    }
    if email.len() > MAX_LEN {
        return Some("This email address is too long.");
    }
    if !email.is_ascii() {
        return Some("Use the plain (ASCII) form of your email address.");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Some("An email address needs an @.");
    };
    if local.is_empty() || local.len() > 64 || domain.contains('@') {
        return Some("This is not a valid email address.");
    }
    let local_ok =
        local.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
    if !local_ok {
        return Some("This is not a valid email address.");
    }
    if !is_domain(domain) {
        return Some("The part after the @ is not a valid domain.");
    }
    None
}

/// A DNS name with at least two labels of letters, digits and inner hyphens.
pub fn is_domain(domain: &str) -> bool {
    domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}

pub fn domain_of(email: &str) -> &str {
    email.rsplit_once('@').map(|(_, d)| d).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_and_checks() {
        assert_eq!(normalize("  Ada.Lovelace@Campus.EDU "), "ada.lovelace@campus.edu");
        assert_eq!(problem("ada+rides@campus.edu"), None);
        assert!(problem("ada campus.edu").is_some());
        assert!(problem("ada lovelace@campus.edu").is_some());
        assert!(problem("adä@campus.edu").is_some());
        assert!(problem("ada@campus").is_some());
        assert!(problem("ada@@campus.edu").is_some());
        assert!(problem(&format!("{}@campus.edu", "a".repeat(10_000))).is_some());
        assert!(problem("").is_some());
        assert_eq!(domain_of("a@x.campus.edu"), "x.campus.edu");
    }
}
