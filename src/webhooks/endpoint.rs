//! What an endpoint is, as stored (its secret apart).

/// A registered endpoint (without its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: i64,
    pub secret_rotated_at: Option<i64>,
}
