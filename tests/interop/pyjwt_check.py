#!/usr/bin/env python3
"""Verifies Latchkey session tokens with PyJWT, independently of any Clerk SDK.

Usage: pyjwt_check.py FRONTEND_API_URL SECRET_KEY JWKS_URL PUBLIC_KEY_PEM JWT [JWT…]

JWKS_URL and PUBLIC_KEY_PEM are what the emulator's control API advertises (GET
/_emulator/v1/instance: jwks_url, public_key_pem). For each JWT, fetches the signing key from
JWKS_URL with PyJWKClient and from the Backend API's {url}/v1/jwks (Bearer secret key), verifies
the RS256 signature, exp/nbf/iat and iss == FRONTEND_API_URL, and requires sub, sid, exp, iat,
nbf, iss; verifies it once more with PUBLIC_KEY_PEM alone. Also checks that a tampered copy of
each token is refused. Prints one JSON object on stdout:
{"results": [{"claims": {...}, "kid": ..., "jwks_url": ..., "bapi_claims_equal": true,
"pem_claims_equal": true, "tampered_rejected": "InvalidSignatureError"}, ...]}. Exits non-zero on
any failure.
"""
import base64
import json
import sys

import jwt
from jwt import PyJWKClient

REQUIRED = ["exp", "iat", "nbf", "iss", "sub", "sid"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "user_forged"
    return ".".join([header, b64url(json.dumps(claims).encode()), signature])


def main() -> int:
    url, secret_key, jwks_url, pem, tokens = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
    fapi = PyJWKClient(jwks_url, cache_jwk_set=True)
    bapi = PyJWKClient(f"{url}/v1/jwks", headers={"Authorization": f"Bearer {secret_key}"})
    # Clerk's JWKS publishes all six fields; PyJWK needs kty/n/e, SDKs also read kid/alg/use.
    jwks = fapi.fetch_data()
    for key in jwks["keys"]:
        missing = {"use", "kty", "kid", "alg", "n", "e"} - key.keys()
        if missing:
            raise SystemExit(f"JWKS key {key.get('kid')} lacks {sorted(missing)}")
    results = []
    for token in tokens:
        signing_key = fapi.get_signing_key_from_jwt(token)
        options = {"require": REQUIRED}
        claims = jwt.decode(token, signing_key.key, algorithms=["RS256"], issuer=url, options=options)
        bapi_key = bapi.get_signing_key_from_jwt(token)
        bapi_claims = jwt.decode(token, bapi_key.key, algorithms=["RS256"], issuer=url, options=options)
        pem_claims = jwt.decode(token, pem, algorithms=["RS256"], issuer=url, options=options)
        try:
            jwt.decode(tamper(token), signing_key.key, algorithms=["RS256"], issuer=url)
            tampered = None
        except jwt.InvalidSignatureError as err:
            tampered = type(err).__name__
        try:
            jwt.decode(token, signing_key.key, algorithms=["RS256"], issuer="https://clerk.example.com")
            wrong_issuer = None
        except jwt.InvalidIssuerError as err:
            wrong_issuer = type(err).__name__
        results.append(
            {
                "claims": claims,
                "kid": signing_key.key_id,
                "alg": jwt.get_unverified_header(token)["alg"],
                "jwks_url": fapi.uri,
                "bapi_claims_equal": bapi_claims == claims,
                "pem_claims_equal": pem_claims == claims,
                "tampered_rejected": tampered,
                "wrong_issuer_rejected": wrong_issuer,
                "jwks_kids": [k["kid"] for k in jwks["keys"]],
            }
        )
    print(json.dumps({"pyjwt": jwt.__version__, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
