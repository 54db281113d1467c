//! The claims each scope releases, and nothing else personal (SPEC section 11):
//! `email` (email, email_verified), `profile` (name, preferred_username, updated_at), `phone`
//! (phone_number, phone_number_verified), `campus` (id, name, domain), `driver`
//! (driver_verified, driver_licence_valid_until).

use serde_json::{Map, Value, json};

use super::scopes::Scopes;
use crate::accounts::User;

/// The campus of a user, as the `campus` claim shows it.
pub struct CampusClaim {
    pub id: i64,
    pub name: String,
    pub domain: Option<String>,
}

/// What a driver check found, for the `driver` scope.
pub struct DriverClaim {
    pub verified: bool,
    /// The licence's expiry, when the driver is verified.
    pub valid_until: Option<chrono::NaiveDate>,
}

/// The claims of `scopes` for `user` (never `sub`, which the caller sets).
pub fn for_scopes(
    user: &User,
    scopes: &Scopes,
    campus: Option<CampusClaim>,
    driver: Option<DriverClaim>,
) -> Map<String, Value> {
    let mut claims = Map::new();
    if scopes.has("email")
        && let Some(email) = &user.email
    {
        claims.insert("email".into(), json!(email));
        claims.insert("email_verified".into(), json!(user.email_verified_at.is_some()));
    }
    if scopes.has("profile") {
        claims.insert("name".into(), json!(user.display_name));
        if let Some(email) = &user.email {
            let local = email.split('@').next().unwrap_or_default();
            claims.insert("preferred_username".into(), json!(local));
        }
        let updated = user.profile_updated_at.unwrap_or(user.created_at);
        claims.insert("updated_at".into(), json!(updated));
    }
    if scopes.has("phone")
        && let Some(phone) = &user.phone
    {
        claims.insert("phone_number".into(), json!(phone));
        claims.insert("phone_number_verified".into(), json!(user.phone_verified_at.is_some()));
    }
    if scopes.has("campus")
        && let Some(campus) = campus
    {
        let mut value = json!({"id": campus.id.to_string(), "name": campus.name});
        if let Some(domain) = campus.domain {
            value["domain"] = json!(domain);
        }
        claims.insert("campus".into(), value);
    }
    if scopes.has("driver")
        && let Some(driver) = driver
    {
        claims.insert("driver_verified".into(), json!(driver.verified));
        if let Some(until) = driver.valid_until.filter(|_| driver.verified) {
            claims.insert("driver_licence_valid_until".into(), json!(until.to_string()));
        }
    }
    claims
}

/// The campus domain of a user: their email's, when it is one of the campus's.
pub fn campus_domain(user: &User, domains: &[String]) -> Option<String> {
    let from_email = user.email.as_deref().and_then(|e| e.rsplit_once('@')).map(|(_, d)| d);
    from_email
        .filter(|d| domains.iter().any(|k| k.eq_ignore_ascii_case(d)))
        .map(str::to_string)
        .or_else(|| domains.first().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User {
            id: "u1".into(),
            email: Some("ada@north.edu".into()),
            display_name: "Ada".into(),
            legal_name: Some("Ada Lovelace".into()),
            phone: Some("+15550100".into()),
            password_hash: Some("secret-hash".into()),
            campus_id: Some(1),
            campus_name: Some("North".into()),
            role: "user".into(),
            email_verified_at: Some(1),
            created_at: 5,
            phone_verified_at: None,
            profile_updated_at: None,
        }
    }

    #[test]
    fn each_scope_releases_its_claims_and_nothing_else() {
        let only_openid = for_scopes(&user(), &Scopes::stored("openid"), None, None);
        assert!(only_openid.is_empty());
        let scopes = Scopes::stored("openid email profile phone");
        let claims = for_scopes(&user(), &scopes, None, None);
        assert_eq!(claims["email"], "ada@north.edu");
        assert_eq!(claims["preferred_username"], "ada");
        assert_eq!(claims["updated_at"], 5);
        assert_eq!(claims["phone_number_verified"], false);
        let text = serde_json::to_string(&claims).unwrap();
        assert!(!text.contains("Lovelace") && !text.contains("secret-hash"), "{text}");
        let driver = DriverClaim { verified: false, valid_until: None };
        let claims = for_scopes(&user(), &Scopes::stored("openid driver"), None, Some(driver));
        assert_eq!(claims.len(), 1);
        assert_eq!(claims["driver_verified"], false);
    }

    #[test]
    fn the_campus_domain_is_the_email_s_when_it_belongs_to_the_campus() {
        let domains = vec!["north.edu".to_string(), "n.edu".to_string()];
        assert_eq!(campus_domain(&user(), &domains).as_deref(), Some("north.edu"));
        let mut phone_only = user();
        phone_only.email = None;
        assert_eq!(campus_domain(&phone_only, &domains).as_deref(), Some("north.edu"));
    }
}
