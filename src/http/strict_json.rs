//! `StrictJson<T>`, the payload of every JSON request body: poem-openapi's `Json<T>` (same
//! content types, same schema in the document, same 400 `malformed_request` for bad JSON) plus
//! one check before the typed parse, that the body conforms to the schema published for `T`.
//!
//! Why: poem-openapi 5.1.16 is more lenient than the document it generates. It reads a JSON
//! number or boolean into a `String` field (`{"refresh_token": 5}` becomes `"5"`) and `null` as
//! absent for `Option` and `#[oai(default)]` fields, although no request field is published as
//! nullable. A body like that breaks the contract, and the client that sent it has a bug it
//! should hear about rather than have guessed around. Refusing `null` rather than declaring
//! fields nullable keeps the document as it was and true: absent is the one way to leave a field
//! out, which is what the web UI and the examples do.
//!
//! The check walks the same `MetaSchema`s the document is generated from, so the two cannot
//! disagree. It covers what the typed parse lets through (types and `null`, at any depth);
//! the parse that follows still checks the rest (required fields, integer ranges, enum values,
//! the `#[oai(validator)]`s).

use std::ops::{Deref, DerefMut};

use poem::{Request, RequestBody, Result};
use poem_openapi::error::ParseRequestPayloadError;
use poem_openapi::payload::{Json, ParsePayload, Payload};
use poem_openapi::registry::{MetaSchema, MetaSchemaRef, Registry};
use poem_openapi::types::{ParseFromJSON, Type};
use serde_json::Value;

/// A JSON request body that must match its published schema exactly (see the module docs).
#[derive(Debug, Clone, Eq, PartialEq, Default)]
pub struct StrictJson<T>(pub T);

impl<T> Deref for StrictJson<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for StrictJson<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: Type> Payload for StrictJson<T> {
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

impl<T: ParseFromJSON> ParsePayload for StrictJson<T> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;

    async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
        // `Json<Value>` reads the body exactly as `Json<T>` would (an empty body is null).
        let Json(value) = <Json<Value> as ParsePayload>::from_request(request, body).await?;
        if let Err(reason) = conforms::<T>(&value) {
            return Err(ParseRequestPayloadError { reason }.into());
        }
        let value = T::parse_from_json(Some(value))
            .map_err(|err| ParseRequestPayloadError { reason: err.into_message() })?;
        Ok(Self(value))
    }
}

poem_openapi::impl_apirequest_for_payload!(StrictJson<T>, T: ParseFromJSON);

/// Whether `value` has the types `T`'s published schema gives it, with `null` only where the
/// schema says nullable. The registry is built per request: a few small allocations, next to
/// nothing beside reading the body.
fn conforms<T: Type>(value: &Value) -> Result<(), String> {
    let mut registry = Registry::new();
    T::register(&mut registry);
    check(value, &T::schema_ref(), &registry, "")
}

fn check(
    value: &Value,
    schema: &MetaSchemaRef,
    registry: &Registry,
    at: &str,
) -> Result<(), String> {
    match schema {
        MetaSchemaRef::Inline(schema) => check_schema(value, schema, registry, at),
        // `T::register` put every schema that `T` refers to, at any depth, in the registry.
        MetaSchemaRef::Reference(name) => match registry.schemas.get(name) {
            Some(schema) => check_schema(value, schema, registry, at),
            None => Ok(()),
        },
    }
}

fn check_schema(
    value: &Value,
    schema: &MetaSchema,
    registry: &Registry,
    at: &str,
) -> Result<(), String> {
    if value.is_null() && schema.nullable {
        return Ok(());
    }
    let has_type = match schema.ty {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        // No type named: any value (`{}`), or one that the `allOf` parts below constrain.
        _ => true,
    };
    if !has_type {
        let what = if at.is_empty() { "The body".to_string() } else { format!("`{at}`") };
        return Err(format!("{what} must be {}, not {}.", a(schema.ty), a(kind(value))));
    }
    match value {
        Value::Object(fields) => {
            for (name, field) in fields {
                let known = schema.properties.iter().find(|(known, _)| known == name);
                let field_schema = match known {
                    Some((_, field_schema)) => field_schema,
                    // Unknown fields are allowed unless the schema gives them a type.
                    None => match &schema.additional_properties {
                        Some(extra) => extra,
                        None => continue,
                    },
                };
                check(field, field_schema, registry, &path(at, name))?;
            }
        }
        Value::Array(items) => {
            if let Some(item) = &schema.items {
                for (i, value) in items.iter().enumerate() {
                    check(value, item, registry, &format!("{at}[{i}]"))?;
                }
            }
        }
        _ => {}
    }
    // A field that refers to an object and has its own description is `allOf: [$ref, {...}]`.
    for part in &schema.all_of {
        check(value, part, registry, at)?;
    }
    Ok(())
}

fn path(at: &str, name: &str) -> String {
    if at.is_empty() { name.to_string() } else { format!("{at}.{name}") }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// "a string", "an object", "null".
fn a(kind: &str) -> String {
    match kind {
        "null" => "null".to_string(),
        "integer" | "array" | "object" => format!("an {kind}"),
        _ => format!("a {kind}"),
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::Object;
    use serde_json::json;

    use super::*;

    #[derive(Object)]
    struct Inner {
        nonce: String,
    }

    #[derive(Object)]
    struct Outer {
        name: String,
        note: Option<String>,
        #[oai(default)]
        remember: bool,
        count: Option<u32>,
        tags: Option<Vec<String>>,
        /// With a description, so the field is `allOf: [$ref, ...]`.
        inner: Option<Inner>,
    }

    #[test]
    fn valid_bodies_pass() {
        assert_eq!(conforms::<Outer>(&json!({"name": "a"})), Ok(()));
        let full = json!({"name": "a", "note": "b", "remember": true, "count": 3,
            "tags": ["x"], "inner": {"nonce": "n"}, "unknown": null});
        assert_eq!(conforms::<Outer>(&full), Ok(()));
    }

    #[test]
    fn wrong_types_and_nulls_are_refused_at_any_depth() {
        let refused = [
            (json!({"name": 5}), "`name` must be a string, not a number."),
            (json!({"name": true}), "`name` must be a string, not a boolean."),
            (json!({"name": ["a"]}), "`name` must be a string, not an array."),
            (json!({"name": {}}), "`name` must be a string, not an object."),
            (json!({"name": null}), "`name` must be a string, not null."),
            (json!({"name": "a", "note": null}), "`note` must be a string, not null."),
            (json!({"name": "a", "remember": null}), "`remember` must be a boolean, not null."),
            (json!({"name": "a", "count": "1"}), "`count` must be an integer, not a string."),
            (json!({"name": "a", "tags": [1]}), "`tags[0]` must be a string, not a number."),
            (json!({"name": "a", "inner": null}), "`inner` must be an object, not null."),
            (
                json!({"name": "a", "inner": {"nonce": 1}}),
                "`inner.nonce` must be a string, not a number.",
            ),
            (json!([]), "The body must be an object, not an array."),
            (json!(null), "The body must be an object, not null."),
        ];
        for (body, reason) in refused {
            assert_eq!(conforms::<Outer>(&body), Err(reason.to_string()), "{body}");
        }
    }
}
