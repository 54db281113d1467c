//! Scopes: what an app may ask for, and what each releases, in the plain words the consent
//! page shows.

/// Every scope, in the order the consent page lists them, with what it releases.
const DESCRIBED: &[(&str, &str)] = &[
    ("openid", "Know that it is you when you come back (an id that is not your name)"),
    ("email", "Your campus email address"),
    ("profile", "Your display name"),
    ("phone", "Your verified phone number"),
    ("campus", "Which campus you belong to"),
    ("driver", "Whether you are a verified driver, and until when your licence is valid"),
];

/// The plain-words description of a scope.
pub fn describe(scope: &str) -> &'static str {
    DESCRIBED.iter().find(|(s, _)| *s == scope).map(|(_, d)| *d).unwrap_or("")
}

/// A set of known scopes, in the canonical order, without repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scopes(Vec<&'static str>);

/// Why a requested scope list is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ScopeError {
    MissingOpenid,
    Unknown(String),
    NotAllowed(String),
}

impl ScopeError {
    pub fn describe(&self) -> String {
        match self {
            ScopeError::MissingOpenid => "The scope must include openid.".into(),
            ScopeError::Unknown(s) => format!("The scope {s:?} is not one Gatehouse knows."),
            ScopeError::NotAllowed(s) => format!("This app may not ask for the scope {s:?}."),
        }
    }
}

impl Scopes {
    /// The scopes of a request (space-separated), each known and allowed for the client.
    pub fn parse(requested: &str, allowed: &[String]) -> Result<Self, ScopeError> {
        let mut found = Vec::new();
        for scope in requested.split_ascii_whitespace() {
            let Some((known, _)) = DESCRIBED.iter().find(|(s, _)| *s == scope) else {
                return Err(ScopeError::Unknown(scope.chars().take(40).collect()));
            };
            if !allowed.iter().any(|a| a == known) {
                return Err(ScopeError::NotAllowed(scope.to_string()));
            }
            found.push(*known);
        }
        if !found.contains(&"openid") {
            return Err(ScopeError::MissingOpenid);
        }
        Ok(Self::ordered(found))
    }

    /// Scopes read back from storage (unknown ones are dropped).
    pub fn stored(text: &str) -> Self {
        let found = text
            .split_ascii_whitespace()
            .filter_map(|s| DESCRIBED.iter().find(|(k, _)| *k == s).map(|(k, _)| *k))
            .collect();
        Self::ordered(found)
    }

    fn ordered(found: Vec<&'static str>) -> Self {
        Self(DESCRIBED.iter().map(|(s, _)| *s).filter(|s| found.contains(s)).collect())
    }

    pub fn has(&self, scope: &str) -> bool {
        self.0.contains(&scope)
    }

    /// Whether every scope of `self` is in `granted`.
    pub fn within(&self, granted: &Scopes) -> bool {
        self.0.iter().all(|s| granted.0.contains(s))
    }

    pub fn union(&self, other: &Scopes) -> Scopes {
        Self::ordered(self.0.iter().chain(&other.0).copied().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().copied()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_orders_and_checks_scopes() {
        let all = allowed(&["openid", "email", "profile", "driver"]);
        let scopes = Scopes::parse("profile openid email profile", &all).unwrap();
        assert_eq!(scopes.to_string(), "openid email profile");
        assert_eq!(Scopes::parse("email", &all), Err(ScopeError::MissingOpenid));
        assert_eq!(
            Scopes::parse("openid phone", &all),
            Err(ScopeError::NotAllowed("phone".into()))
        );
        assert_eq!(
            Scopes::parse("openid address", &all),
            Err(ScopeError::Unknown("address".into()))
        );
        let small = Scopes::parse("openid", &all).unwrap();
        assert!(small.within(&scopes) && !scopes.within(&small));
        assert_eq!(small.union(&Scopes::stored("driver openid")).to_string(), "openid driver");
    }
}
