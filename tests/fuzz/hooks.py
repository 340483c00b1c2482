"""schemathesis hooks for tests/fuzz/run (loaded through SCHEMATHESIS_HOOKS).

One extra check, `clerk_status_conformance`, on every operation of every pass. Clerk's specs leave
statuses out that Clerk's real API sends, e.g. 404 `resource_not_found` on
`POST /users/{user_id}/ban` for an unknown id, or 422 `form_param_nil` on `POST /clients/verify`.
Where schemathesis's own `status_code_conformance` is turned off for that reason (checks-*.toml),
this check still holds the emulator to what clients rely on:
- a status the operation documents passes (its body is `response_schema_conformance`'s business);
- an undocumented 4xx must be `application/json` and a ClerkErrors envelope with at least one
  error (the spec's own schema; the Rust harness, emulator/tests/it/support.rs, applies the same
  rule to the requests it makes);
- an undocumented 1xx, 2xx, 3xx or 5xx fails.
"""
import json

import jsonschema_rs
import schemathesis
from schemathesis.core.transport import expand_status_code
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

_validators = {}


def _clerk_errors_validator(raw_schema):
    key = id(raw_schema)
    if key not in _validators:
        schemas = raw_schema["components"]["schemas"]
        document = {
            "$ref": "#/components/schemas/ClerkErrors",
            "components": {"schemas": {name: schemas[name] for name in ("ClerkErrors", "ClerkError")}},
        }
        _validators[key] = jsonschema_rs.validator_for(document)
    return _validators[key]


def _documented(case):
    """The statuses the operation documents, or None when it has a `default` response."""
    codes = set()
    for code in case.operation.responses.status_codes:
        if str(code).lower() == "default":
            return None
        codes.update(expand_status_code(code))
    return codes


@schemathesis.check
def clerk_status_conformance(ctx, response, case):
    if is_unexpected_http_status_case(case):  # schemathesis's request-shape probes, as its own check
        return None
    documented = _documented(case)
    status = response.status_code
    if documented is None or status in documented:
        return None
    listed = ", ".join(sorted(map(str, case.operation.responses.status_codes)))
    if not 400 <= status < 500:
        raise AssertionError(f"Undocumented status {status} (documented: {listed}); only a 4xx may be undocumented")
    content_type = (response.headers.get("content-type") or [""])[0].split(";")[0].strip()
    if content_type != "application/json":
        raise AssertionError(f"Undocumented {status} with Content-Type {content_type!r}, not application/json")
    try:
        body = json.loads(response.content)
    except ValueError as e:
        raise AssertionError(f"Undocumented {status} whose body is not JSON: {e}") from None
    errors = list(_clerk_errors_validator(case.operation.schema.raw_schema).iter_errors(body))
    if errors:
        raise AssertionError(f"Undocumented {status} whose body is not a ClerkErrors envelope: {errors[0]}")
    if not body["errors"]:
        raise AssertionError(f"Undocumented {status} with an empty `errors` list")
    return None
