//! `DirectJson<T>`, a JSON response written straight from `T` with serde, for the hottest
//! answers (`GET /api/v1/auth/session`).
//!
//! Why: poem-openapi's `Json<T>` answers by building a `serde_json::Value` tree from `T` (a map
//! and a string per field) and then serialising the tree; on a session check that was an eighth
//! of the CPU. `DirectJson` publishes the same schema and content type as `Json<T>` (the schema
//! still comes from `T`'s `Object` derive) and serialises `T`'s `Serialize` derive instead.
//! The two derives must agree field for field: `T` keeps poem-openapi's names (no renames) and
//! puts `#[serde(skip_serializing_if = "Option::is_none")]` wherever it has
//! `skip_serializing_if_is_none`. A unit test beside each such `T` compares the two outputs,
//! and the API fuzzing checks the answers against the document.

use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde::Serialize;

/// A JSON answer serialised directly from `T` (see the module docs).
pub struct DirectJson<T>(pub T);

impl<T: Type> Payload for DirectJson<T> {
    const CONTENT_TYPE: &'static str = <Json<T> as Payload>::CONTENT_TYPE;

    fn check_content_type(content_type: &str) -> bool {
        <Json<T> as Payload>::check_content_type(content_type)
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Type + Serialize> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.0) {
            Ok(body) => Response::builder().content_type(Self::CONTENT_TYPE).body(body),
            // Only a map with non-string keys or a failing custom `Serialize` can get here;
            // the answer types have neither.
            Err(_) => poem::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

impl<T: ToJSON + Serialize> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// Both ways of writing `value` as JSON, for the tests that show `T`'s two derives agree.
#[cfg(test)]
pub fn both_ways<T: ToJSON + Serialize>(value: &T) -> (serde_json::Value, serde_json::Value) {
    (value.to_json().unwrap_or_default(), serde_json::to_value(value).expect("serialise"))
}
