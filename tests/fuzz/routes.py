#!/usr/bin/env python3
"""The operations the emulator implements, read from its router source, against the fuzz lists.

Usage: routes.py SRC_DIR fapi|bapi OPERATION...

SRC_DIR is the emulator's `src/http`. Every `.route("path", get(…).post(…))` there is read:
routes in `fapi/` (or `fapi.rs`) are Frontend API operations, routes in `bapi/` Backend API operations (whose
spec paths have no `/v1`: the spec's server URL ends in it), routes under `/_emulator` are the
emulator's own (control API and pages, in no Clerk spec). A route anywhere else, or one whose
methods this script cannot read, is an error: a new router must be classified here, not skipped.

OPERATION is `METHOD /path` as tests/fuzz/run lists it (spec spelling: `{user_id}`). Path
parameters are compared by position, not by name (`{id}` in the router, `{user_id}` in the spec).
Exits 1, naming each difference, unless the listed operations are exactly the implemented ones.
Standard library only.
"""
import pathlib
import re
import sys

METHOD = re.compile(r"(?<![\w])(get|post|put|patch|delete|head|options|trace)\(")
UNREADABLE = re.compile(r"(?<![\w])(any|on|route_service|nest|nest_service)\(")
PARAM = re.compile(r"\{[^{}]*\}")
# Public routes of the emulator's own that no Clerk spec describes: profile images, which Clerk
# serves from its image CDN (img.clerk.com) and the emulator from the Frontend API's host.
# And the native email-link completion (`POST /v1/client/magic_links/complete`), which iOS and
# Android call but the FAPI spec does not list; emulator/tests/it/email_links.rs tests its bad input.
# And clerk-js's own files (`/npm/@clerk/…`, from --clerk-js-dir), which Clerk serves from its CDN
# and the emulator from a local folder; emulator/tests/it/browser.rs tests what it refuses.
# And the test CAPTCHA widget's script and tokens (`/captcha/turnstile/…`, Turnstile's paths),
# tested in emulator/tests/it/browser.rs and tests/ui/clerk-js.test.mjs.
# And the Backend API's handshake payload (`GET /v1/clients/handshake_payload?nonce=`), whose
# path the BAPI spec lists with no operation in it (`{}`), so there is nothing to fuzz it with;
# emulator/tests/it/browser.rs tests its answers and bad input.
# And clerk-js's answer to `requires_captcha` (`POST /v1/client/verify`), which the FAPI spec
# does not list; emulator/tests/it/browser.rs tests its bad input, examples/react-app/e2e the
# real clerk-js sending it.
OWN_PUBLIC = {"/v1/images/{id}", "/v1/client/magic_links/complete", "/npm/@clerk/{package}/{*file}",
              "/captcha/turnstile/v0/api.js", "/captcha/turnstile/token", "/v1/clients/handshake_payload",
              "/v1/client/verify"}


def route_calls(text):
    """Yields the argument text of every `.route(…)` call."""
    for m in re.finditer(r"\.route\(", text):
        depth, i = 1, m.end()
        while depth:
            c = text[i]
            depth += c == "("
            depth -= c == ")"
            i += 1
        yield text[m.end() : i - 1]


def implemented(src):
    ops = {"fapi": set(), "bapi": set()}
    errors = []
    for f in sorted(pathlib.Path(src).glob("**/*.rs")):
        for call in route_calls(f.read_text()):
            path = re.match(r'\s*"([^"]+)"', call)
            methods = METHOD.findall(call)
            if not path or not methods or UNREADABLE.search(call):
                errors.append(f"{f}: cannot read the route {call.strip()!r}")
                continue
            path = path.group(1)
            # A trailing-slash alias is the same operation (clerk-js posts to
            # `/v1/me/backup_codes/`); the spec spells it without.
            if len(path) > 1:
                path = path.rstrip("/")
            if path.startswith("/_emulator") or path in OWN_PUBLIC:
                continue
            # A surface is one file (`fapi.rs`) or one folder (`fapi/`, one file per resource).
            api = {"fapi.rs": "fapi", "bapi.rs": "bapi"}.get(f.name) or {"fapi": "fapi", "bapi": "bapi"}.get(f.parent.name)
            if api is None:
                errors.append(f"{f}: route {path} is in neither fapi/ nor bapi/; classify it in {__file__}")
                continue
            if api == "bapi":
                if not path.startswith("/v1/"):
                    errors.append(f"{f}: Backend API route {path} outside /v1")
                    continue
                path = path[len("/v1") :]
            for m in methods:
                ops[api].add(f"{m.upper()} {path}")
    return ops, errors


def normal(op):
    return PARAM.sub("{}", op)


def main():
    src, api, listed = sys.argv[1], sys.argv[2], sys.argv[3:]
    ops, errors = implemented(src)
    have = {normal(o): o for o in ops[api]}
    want = {normal(o): o for o in listed}
    for key in sorted(have.keys() - want.keys()):
        errors.append(f"implemented but not fuzzed ({api}): {have[key]}")
    for key in sorted(want.keys() - have.keys()):
        errors.append(f"fuzzed but not implemented ({api}): {want[key]}")
    if len(want) != len(listed):
        errors.append(f"the {api} list names an operation twice")
    for e in errors:
        print(f"!! routes: {e}", file=sys.stderr)
    if errors:
        sys.exit(1)
    print(f"routes: {api}: the {len(have)} operations in {src} are the {len(listed)} fuzzed")


if __name__ == "__main__":
    main()
