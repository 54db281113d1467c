//! How a sign-in was proved: the authentication methods of RFC 8176 (`amr`), kept with each
//! session and each API token family. Admin operations in production ask that the session
//! itself used a second factor, not only that the account has one enrolled: a session opened
//! by a password alone before TOTP was turned on, or by a phone code, is one factor.
//!
//! A passkey is recorded as `hwk` (a key held by the device) or `swk` (one that may be synced
//! between devices: backup eligible), with `user` (the authenticator verified its user: a
//! fingerprint, a face, a PIN) and `mfa`: something held and something known or been.
//!
//! Stored as the RFC 8176 values separated by spaces (`"pwd otp mfa"`). A recovery code is
//! recorded as `otp`: it is a one-time password printed in advance, and RFC 8176 has no value
//! of its own for it (the audit log says which it was). Rows from before this was recorded
//! hold an empty list, which proves no second factor.

/// A set of authentication methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Amr(u8);

/// The methods in the order they are written, with their RFC 8176 names.
const METHODS: [(Amr, &str); 7] = [
    (Amr::PASSWORD, "pwd"),
    (Amr::ONE_TIME_CODE, "otp"),
    (Amr::PHONE_CODE, "sms"),
    (Amr::HARDWARE_KEY, "hwk"),
    (Amr::SOFTWARE_KEY, "swk"),
    (Amr::USER_VERIFIED, "user"),
    (Amr::MULTIPLE_FACTORS, "mfa"),
];

impl Amr {
    /// The account's password (`pwd`).
    pub const PASSWORD: Amr = Amr(1);
    /// A TOTP code or a recovery code (`otp`).
    pub const ONE_TIME_CODE: Amr = Amr(2);
    /// A code sent by SMS to a verified phone (`sms`).
    pub const PHONE_CODE: Amr = Amr(4);
    /// A passkey bound to its device (`hwk`).
    pub const HARDWARE_KEY: Amr = Amr(16);
    /// A passkey that may be synced between devices (`swk`).
    pub const SOFTWARE_KEY: Amr = Amr(32);
    /// The authenticator verified its user (`user`).
    pub const USER_VERIFIED: Amr = Amr(64);
    /// More than one factor (`mfa`), set by [`Amr::with`] when a second one is added.
    const MULTIPLE_FACTORS: Amr = Amr(8);

    /// `self` and then `second`, a further factor: the set says `mfa` as well.
    pub fn with(self, second: Amr) -> Amr {
        Amr(self.0 | second.0 | Self::MULTIPLE_FACTORS.0)
    }

    /// Whether the sign-in used a second factor.
    pub fn second_factor(self) -> bool {
        self.0 & Self::MULTIPLE_FACTORS.0 != 0
    }

    /// The RFC 8176 values, as an ID token's `amr` claim lists them.
    pub fn names(self) -> Vec<&'static str> {
        METHODS.iter().filter(|(m, _)| self.0 & m.0 != 0).map(|(_, name)| *name).collect()
    }

    /// The stored form: the values separated by spaces.
    pub fn to_db(self) -> String {
        self.names().join(" ")
    }

    /// Reads the stored form; unknown values are ignored (they prove nothing).
    pub fn from_db(stored: &str) -> Amr {
        let bits = stored
            .split_ascii_whitespace()
            .filter_map(|name| METHODS.iter().find(|(_, n)| *n == name))
            .fold(0, |bits, (m, _)| bits | m.0);
        Amr(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_factor_is_what_makes_mfa() {
        assert!(!Amr::PASSWORD.second_factor());
        assert!(!Amr::PHONE_CODE.second_factor());
        let both = Amr::PASSWORD.with(Amr::ONE_TIME_CODE);
        assert!(both.second_factor());
        assert_eq!(both.names(), ["pwd", "otp", "mfa"]);
        assert_eq!(Amr::PHONE_CODE.with(Amr::ONE_TIME_CODE).to_db(), "otp sms mfa");
    }

    #[test]
    fn the_stored_form_reads_back_and_old_rows_prove_nothing() {
        for amr in [Amr::PASSWORD, Amr::PHONE_CODE.with(Amr::ONE_TIME_CODE), Amr::default()] {
            assert_eq!(Amr::from_db(&amr.to_db()), amr);
        }
        assert_eq!(Amr::from_db(""), Amr::default());
        assert!(!Amr::from_db("pwd xyz").second_factor(), "unknown values are ignored");
        assert_eq!(Amr::from_db("pwd xyz"), Amr::PASSWORD);
        let passkey = Amr::HARDWARE_KEY.with(Amr::USER_VERIFIED);
        assert_eq!(passkey.names(), ["hwk", "user", "mfa"]);
        assert!(passkey.second_factor(), "a user-verified passkey is two factors");
        assert_eq!(Amr::from_db(&passkey.to_db()), passkey);
        assert!(!Amr::from_db("").second_factor());
    }
}
