//! The emails Gatehouse sends, in plain text and HTML. Values that come from users are escaped
//! in the HTML part. Links are always built from `server.public_url`, never from a request.

use super::Email;

/// Who the mail is from, in words: the campus name when known.
pub struct Brand<'a> {
    pub product: &'a str,
    pub campus: Option<&'a str>,
}

impl Brand<'_> {
    fn signature(&self) -> String {
        match self.campus {
            Some(campus) => format!("{} at {campus}", self.product),
            None => self.product.to_string(),
        }
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Assembles an email from a greeting name, paragraphs and an optional call to action.
fn compose(
    brand: &Brand<'_>,
    to: &str,
    subject: &str,
    name: &str,
    paragraphs: &[&str],
    action: Option<(&str, &str)>,
) -> Email {
    let signature = brand.signature();
    let mut text = format!("Hello {name},\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\">\
         <p>Hello {},</p>",
        escape(name)
    );
    for paragraph in paragraphs {
        text.push_str(paragraph);
        text.push_str("\n\n");
        html.push_str(&format!("<p>{}</p>", escape(paragraph)));
    }
    if let Some((label, url)) = action {
        text.push_str(&format!("{label}:\n{url}\n\n"));
        html.push_str(&format!(
            "<p><a href=\"{}\" style=\"font-weight:bold\">{}</a></p>",
            escape(url),
            escape(label)
        ));
    }
    text.push_str(&format!("— {signature}\n"));
    html.push_str(&format!("<p>— {}</p></body></html>", escape(&signature)));
    Email { to: to.into(), subject: format!("{subject} · {signature}"), text, html }
}

pub fn verify_email(brand: &Brand<'_>, to: &str, name: &str, url: &str, hours: i64) -> Email {
    compose(
        brand,
        to,
        "Confirm your email address",
        name,
        &[
            "Please confirm that this is your email address to finish creating your account.",
            &format!("The link works once and expires in {hours} hours."),
            "If you did not sign up, ignore this email.",
        ],
        Some(("Confirm my email address", url)),
    )
}

pub fn already_registered(brand: &Brand<'_>, to: &str, name: &str, reset_url: &str) -> Email {
    compose(
        brand,
        to,
        "Someone tried to sign up with your address",
        name,
        &[
            "Someone tried to create an account with this email address, but you already have \
             one. Nothing was changed.",
            "If it was you and you forgot your password, you can reset it.",
        ],
        Some(("Reset my password", reset_url)),
    )
}

pub fn password_reset(brand: &Brand<'_>, to: &str, name: &str, url: &str) -> Email {
    compose(
        brand,
        to,
        "Reset your password",
        name,
        &[
            "Someone asked to reset the password of your account. The link works once and \
             expires in one hour.",
            "If you did not ask for this, ignore this email: your password stays as it is.",
        ],
        Some(("Choose a new password", url)),
    )
}

pub fn password_changed(brand: &Brand<'_>, to: &str, name: &str, how: &str) -> Email {
    compose(
        brand,
        to,
        "Your password was changed",
        name,
        &[
            &format!("The password of your account was {how}. All other sign-ins were ended."),
            "If this was not you, reset your password at once and tell campus IT.",
        ],
        None,
    )
}

pub fn account_locked(brand: &Brand<'_>, to: &str, name: &str, minutes: i64) -> Email {
    compose(
        brand,
        to,
        "Sign-ins to your account are paused",
        name,
        &[
            &format!(
                "Someone entered a wrong password for your account several times, so sign-ins \
                 are paused for {minutes} minute(s), longer if it goes on."
            ),
            "If it was you, wait and try again, or reset your password. If it was not, \
             resetting your password ends the pause and keeps your account safe.",
        ],
        None,
    )
}

/// Too many wrong two-step sign-in codes: the account's second factors are paused.
pub fn second_factor_paused(brand: &Brand<'_>, to: &str, name: &str, minutes: i64) -> Email {
    compose(
        brand,
        to,
        "Two-step sign-in to your account is paused",
        name,
        &[
            &format!(
                "Someone entered wrong two-step sign-in codes for your account many times, so \
                 codes are not accepted for {minutes} minute(s), longer if it goes on."
            ),
            "To get this far they needed your password or a signed-in session. If it was not \
             you, reset your password now: that ends the pause and signs everyone out.",
        ],
        None,
    )
}

/// A change to the account's second factors, for the notice email.
#[derive(Debug, Clone)]
pub enum MfaChange {
    Enabled,
    Disabled,
    RecoveryCodeUsed { remaining: i64 },
    RecoveryCodesRegenerated,
    PasskeyAdded { name: String },
    PasskeyRenamed { name: String },
    PasskeyRemoved { name: String },
}

pub fn mfa_changed(brand: &Brand<'_>, to: &str, name: &str, change: MfaChange) -> Email {
    let (subject, what) = match change {
        MfaChange::Enabled => (
            "Two-step sign-in was turned on",
            "Two-step sign-in with an authenticator app was turned on for your account."
                .to_string(),
        ),
        MfaChange::Disabled => (
            "Two-step sign-in was turned off",
            "Two-step sign-in was turned off for your account: a password alone now signs in."
                .to_string(),
        ),
        MfaChange::RecoveryCodeUsed { remaining } => (
            "A recovery code was used",
            format!(
                "A recovery code was used to sign in to your account. {remaining} unused code(s) \
                 remain; you can make new ones on your account page."
            ),
        ),
        MfaChange::RecoveryCodesRegenerated => (
            "New recovery codes were made",
            "New recovery codes were made for your account; the old ones no longer work."
                .to_string(),
        ),
        MfaChange::PasskeyAdded { name } => (
            "A passkey was added",
            format!(
                "A passkey named \"{name}\" was added to your account: it signs in on its own."
            ),
        ),
        MfaChange::PasskeyRenamed { name } => (
            "A passkey was renamed",
            format!("One of your account's passkeys was renamed \"{name}\"."),
        ),
        MfaChange::PasskeyRemoved { name } => (
            "A passkey was removed",
            format!(
                "The passkey named \"{name}\" was removed from your account: it no longer signs in."
            ),
        ),
    };
    compose(
        brand,
        to,
        subject,
        name,
        &[&what, "If this was not you, reset your password at once and tell campus IT."],
        None,
    )
}

/// A driver's licence expires in `days` day(s): upload the new one, or, when a new one is
/// already waiting for a reviewer, nothing to do but wait.
pub fn licence_expiring(
    brand: &Brand<'_>,
    to: &str,
    name: &str,
    days: i64,
    expiry: &str,
    renewal_waiting: bool,
    url: &str,
) -> Email {
    let consequence = format!(
        "The driving licence on your driver profile expires on {expiry}. On that day you stop \
         being available for rides and driving is suspended until a new licence is approved."
    );
    let (next, action) = if renewal_waiting {
        (
            "Your new licence is waiting for a reviewer: you keep driving on the current one \
             until then, and you will get an email when it is decided.",
            "See your driver page",
        )
    } else {
        ("Upload your new licence now to keep driving without a break.", "Upload your new licence")
    };
    compose(
        brand,
        to,
        &format!("Your driving licence expires in {days} day(s)"),
        name,
        &[&consequence, next],
        Some((action, url)),
    )
}

/// Driving was suspended because the licence expired.
pub fn driving_suspended(
    brand: &Brand<'_>,
    to: &str,
    name: &str,
    expiry: &str,
    renewal_waiting: bool,
    url: &str,
) -> Email {
    let next = if renewal_waiting {
        "Your new licence is waiting for a reviewer: you can drive again as soon as it is \
         approved, and you will get an email when it is decided."
    } else {
        "Upload your new licence to drive again."
    };
    compose(
        brand,
        to,
        "Driving is suspended: your licence has expired",
        name,
        &[
            &format!(
                "The driving licence on your driver profile expired on {expiry}, so you are no \
                 longer available for rides and driving is suspended."
            ),
            next,
        ],
        Some(("See your driver page", url)),
    )
}

/// A licence was approved, by a reviewer or (a renewal a campus lets through) automatically.
pub fn licence_approved(
    brand: &Brand<'_>,
    to: &str,
    name: &str,
    expiry: &str,
    automatic: bool,
    url: &str,
) -> Email {
    let how = if automatic {
        "Your new driving licence passed every check and was approved."
    } else {
        "A reviewer approved your driving licence."
    };
    compose(
        brand,
        to,
        "Your driving licence was approved",
        name,
        &[how, &format!("You can drive with it until {expiry}.")],
        Some(("See your driver page", url)),
    )
}

/// A licence was rejected: `reason` is the reviewer's, `still_valid_until` the expiry of the
/// licence the driver keeps driving on, if any.
pub fn licence_rejected(
    brand: &Brand<'_>,
    to: &str,
    name: &str,
    reason: &str,
    still_valid_until: Option<&str>,
    url: &str,
) -> Email {
    let reason = format!("A reviewer did not approve the driving licence you uploaded: {reason}");
    let next = match still_valid_until {
        Some(expiry) => format!(
            "You keep driving on your current licence until {expiry}. Upload the new one again \
             with that in mind."
        ),
        None => "Upload your licence again with that in mind.".to_string(),
    };
    compose(
        brand,
        to,
        "Your driving licence was not approved",
        name,
        &[&reason, &next],
        Some(("Upload your licence", url)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_values_are_escaped_in_html_and_links_appear_in_both_parts() {
        let brand = Brand { product: "Gatehouse", campus: Some("North Campus") };
        let email = verify_email(&brand, "a@b.edu", "<script>x</script>", "https://id/x?t=1", 24);
        assert!(email.html.contains("&lt;script&gt;"));
        assert!(!email.html.contains("<script>"));
        assert!(email.text.contains("https://id/x?t=1"));
        assert!(email.html.contains("https://id/x?t=1"));
        assert!(email.subject.contains("North Campus"));
    }
}
