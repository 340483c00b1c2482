#!/usr/bin/env python3
"""Seeds a running auth-emulator so schemathesis reaches past 404s, and prints the ids it made as
shell assignments (KEY='value' lines) for tests/fuzz/run to export into the config files.

Usage: seed.py EMULATOR_URL SECRET_KEY

Standard library only. What it makes:
- instance settings: username and phone number on (optional), a JWT template `fuzz`;
- FUZZ_USER_ID: a user with a password, signed in on one client (FUZZ_CLIENT_TOKEN,
  FUZZ_CLIENT_ID, FUZZ_SESSION_ID); on that same client an unfinished sign-up (FUZZ_SIGN_UP_ID)
  and an unfinished sign-in waiting for its first factor (FUZZ_SIGN_IN_ID);
- one user of its own for each destructive Backend API call, so that none takes the first user
  away and none races another (schemathesis runs operations in parallel): FUZZ_DELETE_USER_ID
  (DELETE /users/{id}), FUZZ_BAN_USER_ID (ban), FUZZ_LOCK_USER_ID (lock), and FUZZ_REVOKE_SESSION_ID,
  a signed-in session of a fourth user (POST /sessions/{id}/revoke);
- FUZZ_SIGN_IN_TOKEN_ID: a pending sign-in token of FUZZ_USER_ID (its revoke);
- FUZZ_EXTERNAL_ACCOUNT_ID: FUZZ_USER_ID's account at the mock Google, connected on the signed-in
  client through /v1/me/external_accounts (its reauthorize, token revocation and removal; the
  Backend API's oauth_access_tokens of oauth_google).
"""
import json
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

URL, SECRET = sys.argv[1].rstrip("/"), sys.argv[2]
PASSWORD = "fuzz-Correct-Horse-Battery-9"


def call(method, path, *, json_body=None, form=None, headers=None, want_header=None):
    data = None
    hdrs = dict(headers or {})
    if json_body is not None:
        data = json.dumps(json_body).encode()
        hdrs["content-type"] = "application/json"
    elif form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["content-type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(URL + path, data=data, method=method, headers=hdrs)
    with urllib.request.urlopen(req, timeout=15) as res:
        body = json.loads(res.read() or b"null")
        return (body, res.headers.get(want_header)) if want_header else body


class _Stay(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def browse(url):
    """Follows a browser's redirects through the emulator; where it lands outside it."""
    opener = urllib.request.build_opener(_Stay)
    for _ in range(5):
        if not url.startswith(URL):
            return url
        try:
            opener.open(url, timeout=15)
            raise AssertionError(f"no redirect from {url}")
        except urllib.error.HTTPError as e:
            assert e.code == 303, (url, e.code, e.read())
            url = e.headers["location"]
    raise AssertionError(f"too many redirects, at {url}")


def bapi(method, path, body=None):
    return call(method, "/v1" + path, json_body=body, headers={"authorization": f"Bearer {SECRET}"})


def fapi(method, path, token, form=None):
    sep = "&" if "?" in path else "?"
    body, new_token = call(
        method,
        f"{path}{sep}_is_native=true",
        form=form,
        headers={"authorization": token} if token else {},
        want_header="authorization",
    )
    # Native rule: header absent → keep the token; otherwise take it verbatim.
    return body, (new_token if new_token is not None else token)


def main():
    call(
        "PATCH",
        "/_emulator/v1/instance",
        json_body={
            "settings": {
                "username": {"enabled": True, "required": False, "used_for_first_factor": True},
                "phone_number": {"enabled": True, "required": False, "used_for_first_factor": True},
                "jwt_templates": {"fuzz": {"claims": {"email": "{{user.primary_email_address}}", "n": 1}}},
            }
        },
    )
    tag = secrets.token_hex(4)
    email = f"fuzz-{tag}@example.com"
    user = bapi("POST", "/users", {"email_address": [email], "password": PASSWORD, "first_name": "Fuzz"})
    def another_user(role):
        address = f"{role}-{tag}@example.com"
        return address, bapi("POST", "/users", {"email_address": [address], "password": PASSWORD})["id"]

    _, delete_user_id = another_user("delete")
    _, ban_user_id = another_user("ban")
    _, lock_user_id = another_user("lock")
    revoke_email, _ = another_user("revoke")

    # One client: an unfinished sign-up, a signed-in session, an unfinished sign-in.
    body, token = fapi("POST", "/v1/client/sign_ups", None, {"email_address": f"pending-{tag}@example.com", "password": PASSWORD})
    sign_up_id = body["response"]["id"]
    body, token = fapi("POST", "/v1/client/sign_ins", token, {"identifier": email, "password": PASSWORD})
    assert body["response"]["status"] == "complete", body
    session_id = body["response"]["created_session_id"]
    client_id = body["client"]["id"]
    body, token = fapi("POST", "/v1/client/sign_ins", token, {"identifier": email})
    assert body["response"]["status"] == "needs_first_factor", body
    sign_in_id = body["response"]["id"]
    # The client still has the session, the sign-up attempt is still there.
    body, token = fapi("GET", "/v1/client", token)
    assert any(s["id"] == session_id for s in body["response"]["sessions"]), body

    body, _ = fapi("POST", "/v1/client/sign_ins", None, {"identifier": revoke_email, "password": PASSWORD})
    assert body["response"]["status"] == "complete", body
    revoke_session_id = body["response"]["created_session_id"]

    # A pending sign-in token to revoke (POST /sign_in_tokens/{id}/revoke).
    sign_in_token_id = bapi("POST", "/sign_in_tokens", {"user_id": user["id"]})["id"]

    # An account at the mock Google, connected by the signed-in user (automation answers it).
    call("POST", "/_emulator/v1/oauth/google/next", json_body={"email": email, "provider_user_id": f"g-{tag}"})
    body, token = fapi("POST", "/v1/me/external_accounts", token,
                       {"strategy": "oauth_google", "redirect_url": "http://127.0.0.1:9/connected"})
    external_account_id = body["response"]["id"]
    landed = browse(body["response"]["verification"]["external_verification_redirect_url"])
    assert landed == "http://127.0.0.1:9/connected", landed
    body, token = fapi("GET", "/v1/me", token)
    assert body["response"]["external_accounts"][0]["id"] == external_account_id, body

    out = {
        "FUZZ_USER_ID": user["id"],
        "FUZZ_EXTERNAL_ACCOUNT_ID": external_account_id,
        "FUZZ_SIGN_IN_TOKEN_ID": sign_in_token_id,
        "FUZZ_USER_EMAIL": email,
        "FUZZ_DELETE_USER_ID": delete_user_id,
        "FUZZ_BAN_USER_ID": ban_user_id,
        "FUZZ_LOCK_USER_ID": lock_user_id,
        "FUZZ_REVOKE_SESSION_ID": revoke_session_id,
        "FUZZ_CLIENT_TOKEN": token,
        "FUZZ_CLIENT_ID": client_id,
        "FUZZ_SESSION_ID": session_id,
        "FUZZ_SIGN_UP_ID": sign_up_id,
        "FUZZ_SIGN_IN_ID": sign_in_id,
        "FUZZ_TEMPLATE": "fuzz",
    }
    for k, v in out.items():
        print(f"{k}='{v}'")


if __name__ == "__main__":
    main()
