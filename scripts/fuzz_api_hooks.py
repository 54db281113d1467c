"""Schemathesis hooks for scripts/fuzz-api.sh (SCHEMATHESIS_HOOKS=fuzz_api_hooks).

- The admin's bearer token: scripts/fuzz_api_auth.py.
- A filter for false `negative_data_rejection` failures, below.

schemathesis learns constraints from the server's 4xx answers ("error feedback") and then
also generates negative cases against what it learned, not only against the published schema.
Its Spring parser reads our `validation_failed` answer `{"field": "display_name", "message":
"This cannot be empty."}` as "display_name is required", so `PATCH /api/v1/account` with
`{"legal_name": ""}` is sent as a "schema-violating" body (missing display_name) and its 200
reported as a failure. The published schema does not require display_name (absent means
unchanged), so that body is valid and the 200 is right.

The filter drops a `negative_data_rejection` failure only when the request's one negative
part is a JSON body that the published schema (this server's /openapi.json) accepts: such a
body violates nothing, whatever the fuzzer believed. Every other failure is kept, and
schemathesis counts the dropped ones in its report ("dropped by `filter_failure`").
"""

import functools
import os

import jsonschema_rs
import requests
import schemathesis

import fuzz_api_auth  # noqa: F401  (registers the bearer-token auth)


@functools.cache
def published_spec():
    answer = requests.get(os.environ["GATEHOUSE_FUZZ_URL"] + "/openapi.json", timeout=10)
    answer.raise_for_status()
    return answer.json()


def published_body_schema(method, path, media_type):
    operation = published_spec()["paths"].get(path, {}).get(method.lower(), {})
    content = operation.get("requestBody", {}).get("content", {})
    return content.get(media_type, {}).get("schema")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    if failure.code != "ST201" or case.meta is None:  # ST201: negative_data_rejection
        return True
    negative = [location.name for location, part in case.meta.components.items() if part.mode.is_negative]
    if negative != ["BODY"] or not (case.media_type or "").startswith("application/json"):
        return True
    schema = published_body_schema(case.operation.method, case.operation.path, case.media_type)
    if schema is None:
        return True
    # OpenAPI 3.0 schema objects are JSON Schema draft 4 (plus keywords a validator ignores);
    # the components travel along so that `#/components/schemas/...` resolves.
    document = {"allOf": [schema], "components": published_spec()["components"]}
    return not jsonschema_rs.Draft4Validator(document).is_valid(case.body)
