//! `DirectJson<T>`, a JSON response documented as `T` and written straight with serde from a
//! borrowed twin of `T`, for the hottest answer (`GET /api/v1/auth/session`).
//!
//! Why: poem-openapi's `Json<T>` answers by building a `serde_json::Value` tree from `T` (a map
//! and a string per field) and then serialising the tree; on a session check that was an eighth
//! of the CPU, and building an owned `T` (its strings cloned, its times formatted into new
//! strings) was another tenth. `DirectJson` publishes the same schema and content type as
//! `Json<T>` (the schema still comes from `T`'s `Object` derive) and writes any `Serialize`
//! value given to [`DirectJson::new`]: a struct of borrowed fields, or parts rendered once and
//! cached. That value must write what `T` documents, field for field: a unit test beside each
//! use compares it with `T`'s own output, and the API fuzzing checks the answers against the
//! document.

use std::marker::PhantomData;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::ApiResponse;
use poem_openapi::payload::{Json, Payload};
use poem_openapi::registry::{MetaResponses, MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};
use serde::Serialize;

/// Room for the session check's answer (about 460 bytes) without growing the buffer.
const INITIAL_CAPACITY: usize = 768;

/// A JSON answer documented as `T` (see the module docs).
pub struct DirectJson<T> {
    /// None when serialising failed: only a map with non-string keys or a failing custom
    /// `Serialize` can do that, and the answer types have neither.
    body: Option<Vec<u8>>,
    documented: PhantomData<fn() -> T>,
}

impl<T> DirectJson<T> {
    /// The answer `value` writes; `value` must match `T` field for field.
    pub fn new(value: &impl Serialize) -> Self {
        let mut body = Vec::with_capacity(INITIAL_CAPACITY);
        let body = serde_json::to_writer(&mut body, value).is_ok().then_some(body);
        Self { body, documented: PhantomData }
    }
}

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

impl<T: Type> IntoResponse for DirectJson<T> {
    fn into_response(self) -> Response {
        match self.body {
            Some(body) => Response::builder()
                .header(header::CONTENT_TYPE, HeaderValue::from_static(Self::CONTENT_TYPE))
                .body(body),
            None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        }
    }
}

impl<T: ToJSON> ApiResponse for DirectJson<T> {
    fn meta() -> MetaResponses {
        <Json<T> as ApiResponse>::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

/// What `T` documents and what `twin` writes, as JSON trees, for the tests that show a
/// `DirectJson` answer matches its document.
#[cfg(test)]
pub fn both_ways<T: ToJSON>(
    documented: &T,
    twin: &impl Serialize,
) -> (serde_json::Value, serde_json::Value) {
    let written = serde_json::to_vec(twin).expect("serialise");
    (documented.to_json().unwrap_or_default(), serde_json::from_slice(&written).expect("JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(poem_openapi::Object, Serialize)]
    struct Answer {
        name: String,
    }

    #[tokio::test]
    async fn answers_with_the_documented_content_type_and_the_written_body() {
        let response =
            DirectJson::<Answer>::new(&serde_json::json!({"name": "Ada"})).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get(header::CONTENT_TYPE).unwrap(),
            <Json<Answer> as Payload>::CONTENT_TYPE
        );
        assert_eq!(response.into_body().into_vec().await.unwrap(), br#"{"name":"Ada"}"#);
    }

    #[test]
    fn a_value_that_cannot_be_written_is_a_bare_500() {
        let unwritable = std::collections::BTreeMap::from([((1, 2), "a tuple key")]);
        let response = DirectJson::<Answer>::new(&unwritable).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
