//! What a client is: a registered app, and a registration as asked for.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    pub id: String,
    pub name: String,
    pub public: bool,
    /// A campus-owned app: no consent page.
    pub trusted: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    pub scopes: Vec<String>,
    /// How its ID tokens are signed: `RS256` (the default every library knows) or `EdDSA`.
    pub id_token_alg: String,
    pub created_at: i64,
    pub secret_rotated_at: Option<i64>,
}

/// A registration as asked for.
#[derive(Debug, Clone, Default)]
pub struct NewClient {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub public: bool,
    pub trusted: bool,
    pub scopes: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub backchannel_logout_uri: Option<String>,
    /// `RS256` when not given.
    pub id_token_alg: Option<String>,
}
