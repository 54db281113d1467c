//! The event types and their bodies. `data` carries ids, the campus id and states, never
//! personal data: an app that needs a name or an email asks the API (or userinfo) for it.

use serde_json::{Value, json};

/// Every event type, as sent in `type` and subscribed to by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserEmailVerified,
    UserUpdated,
    UserDisabled,
    UserEnabled,
    UserDeleted,
    DriverSubmitted,
    DriverApproved,
    DriverRejected,
    DriverSuspended,
    DriverLicenceExpiring,
}

impl EventType {
    pub const ALL: [EventType; 10] = [
        EventType::UserEmailVerified,
        EventType::UserUpdated,
        EventType::UserDisabled,
        EventType::UserEnabled,
        EventType::UserDeleted,
        EventType::DriverSubmitted,
        EventType::DriverApproved,
        EventType::DriverRejected,
        EventType::DriverSuspended,
        EventType::DriverLicenceExpiring,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EventType::UserEmailVerified => "user.email_verified",
            EventType::UserUpdated => "user.updated",
            EventType::UserDisabled => "user.disabled",
            EventType::UserEnabled => "user.enabled",
            EventType::UserDeleted => "user.deleted",
            EventType::DriverSubmitted => "driver.submitted",
            EventType::DriverApproved => "driver.approved",
            EventType::DriverRejected => "driver.rejected",
            EventType::DriverSuspended => "driver.suspended",
            EventType::DriverLicenceExpiring => "driver.licence_expiring",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One event: its type and its `data`.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventType,
    pub data: Value,
}

impl Event {
    /// An event about a user: `{"user_id", "campus_id"}` and `extra`'s fields (states only).
    pub fn user(kind: EventType, user_id: &str, campus_id: Option<i64>, extra: Value) -> Self {
        let mut data = json!({"user_id": user_id, "campus_id": campus_id});
        if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
            data.extend(extra);
        }
        Self { kind, data }
    }

    /// The body as sent (Standard Webhooks: `type`, `timestamp`, `data`).
    pub fn body(&self, at: i64) -> String {
        json!({
            "type": self.kind.name(),
            "timestamp": crate::clock::rfc3339(at),
            "data": self.data,
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_name_that_parses_back() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.name()), Some(kind));
        }
        assert_eq!(EventType::parse("user.renamed"), None);
    }

    #[test]
    fn a_body_holds_the_type_the_time_and_the_ids() {
        let event = Event::user(EventType::UserDisabled, "u1", Some(3), json!({"disabled": true}));
        let body: Value = serde_json::from_str(&event.body(0)).unwrap();
        assert_eq!(body["type"], "user.disabled");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00+00:00");
        assert_eq!(body["data"], json!({"user_id": "u1", "campus_id": 3, "disabled": true}));
    }
}
