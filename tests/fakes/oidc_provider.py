"""A fake OpenID provider served through ``httpx.MockTransport``, strict like a real one.

Real keys (RSA 2048 and EC P-256, made here with ``cryptography``), real signed JWTs, a
discovery document, a JWKS endpoint, an authorize endpoint (the user "signs in" as whoever
``next_user`` says) and a token endpoint that checks the code (once), the redirect_uri, the
PKCE S256 verifier and the client's authentication (basic or post, as advertised), answering
RFC 6749 errors like a real provider. Knobs make it misbehave: ``down`` / ``slow`` (raise what
httpx raises for a refused connection or a read timeout), ``claims_override`` (expired, wrong
aud, wrong nonce, ...), ``sign_with`` (an unpublished kid, another key under the published kid,
``none``, HS256 keyed with the public key), ``rotate()`` (a new key replaces the published one).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any, Callable
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.test/realms/acme"
CLIENT_ID = "wattprint"
CLIENT_SECRET = "s3cret with spaces & symbols"
REDIRECT_URL = "https://testserver/api/v1/oidc/callback"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SigningKey:
    def __init__(self, kid: str, alg: str) -> None:
        self.kid, self.alg = kid, alg
        if alg.startswith("ES"):
            self.private: Any = ec.generate_private_key(ec.SECP256R1())
            self.jwk = ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk |= {"kid": kid, "use": "sig", "alg": alg}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        return jwt.encode(claims, self.private, algorithm=self.alg,
                          headers={"kid": kid or self.kid})


class FakeOidcProvider:
    def __init__(self, *, clock: Callable[[], float], alg: str = "RS256",
                 auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post"),
                 ) -> None:
        self.clock = clock
        self.key = SigningKey("key-1", alg)
        self.published = [self.key]
        self.auth_methods = auth_methods
        self.next_user: dict[str, Any] = {"sub": "user-1", "email": "ada@acme.test",
                                          "email_verified": True}
        self.codes: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []  # "GET /path" for every request served
        self.token_bodies: list[bytes] = []
        self.last_id_token = "no token issued yet"
        self.down: set[str] = set()  # paths answering with a refused connection
        self.slow: set[str] = set()  # paths answering with a read timeout
        self.broken: dict[str, httpx.Response] = {}  # paths answering this instead
        self.claims_override: dict[str, Any] = {}
        self.sign_with: str | None = None  # None | "unknown-kid" | "none" | "hs256-public"
        self.transport = httpx.MockTransport(self._handle)

    # --- what a test changes -------------------------------------------------------------
    def rotate(self) -> SigningKey:
        """A new signing key replaces the published one (tokens are signed with it from now)."""
        self.key = SigningKey(f"key-{len(self.published) + 1}", self.key.alg)
        self.published = [self.key]
        return self.key

    def count(self, path: str) -> int:
        return sum(1 for r in self.requests if r.endswith(" " + path))

    # --- the browser's side ----------------------------------------------------------------
    def authorize(self, url: str) -> str:
        """The user signs in at the provider: the callback URL it redirects the browser to."""
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == ISSUER + "/protocol/auth"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        assert query["response_type"] == "code" and query["client_id"] == CLIENT_ID
        assert query["redirect_uri"] == REDIRECT_URL and "openid" in query["scope"].split()
        assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"challenge": query["code_challenge"], "nonce": query["nonce"],
                            "redirect_uri": query["redirect_uri"], "user": dict(self.next_user)}
        back = urlsplit(query["redirect_uri"])
        return f"{back.path}?{urlencode({'code': code, 'state': query['state']})}"

    # --- the provider's endpoints ------------------------------------------------------------
    def _handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(urlsplit(ISSUER).path)
        self.requests.append(f"{request.method} {path}")
        if path in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if path in self.slow:
            raise httpx.ReadTimeout("timed out", request=request)
        if path in self.broken:
            return self.broken[path]
        if request.method == "GET" and path == "/.well-known/openid-configuration":
            return httpx.Response(200, json={
                "issuer": ISSUER, "authorization_endpoint": ISSUER + "/protocol/auth",
                "token_endpoint": ISSUER + "/protocol/token",
                "jwks_uri": ISSUER + "/protocol/certs",
                "response_types_supported": ["code"], "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "token_endpoint_auth_methods_supported": list(self.auth_methods),
                "code_challenge_methods_supported": ["S256"]})
        if request.method == "GET" and path == "/protocol/certs":
            return httpx.Response(200, json={"keys": [k.jwk for k in self.published]})
        if request.method == "POST" and path == "/protocol/token":
            return self._token(request)
        return httpx.Response(404, json={"error": "not_found"})

    def _client_ok(self, request: httpx.Request, form: dict[str, str]) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic ") and "client_secret_basic" in self.auth_methods:
            pair = base64.b64decode(header[6:]).decode()
            client_id, _, secret = pair.partition(":")
            return (unquote_plus(client_id), unquote_plus(secret)) == (CLIENT_ID, CLIENT_SECRET)
        if "client_secret" in form and "client_secret_post" in self.auth_methods:
            return (form.get("client_id"), form["client_secret"]) == (CLIENT_ID, CLIENT_SECRET)
        return False

    def _token(self, request: httpx.Request) -> httpx.Response:
        self.token_bodies.append(request.content)
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        if not self._client_ok(request, form):
            return httpx.Response(401, json={"error": "invalid_client"})
        grant = self.codes.pop(form.get("code", ""), None)  # a code works once
        if (form.get("grant_type") != "authorization_code" or grant is None
                or form.get("redirect_uri") != grant["redirect_uri"]):
            return httpx.Response(400, json={"error": "invalid_grant"})
        verifier = form.get("code_verifier", "")
        if _b64(hashlib.sha256(verifier.encode()).digest()) != grant["challenge"]:
            return httpx.Response(400, json={"error": "invalid_grant",
                                             "error_description": "PKCE verification failed"})
        now = int(self.clock())
        claims = {"iss": ISSUER, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                  "nonce": grant["nonce"], **grant["user"], **self.claims_override}
        claims = {k: v for k, v in claims.items() if v is not None}
        self.last_id_token = self._sign(claims)
        return httpx.Response(200, json={"access_token": secrets.token_urlsafe(16),
                                         "token_type": "Bearer", "expires_in": 300,
                                         "id_token": self.last_id_token})

    def _sign(self, claims: dict[str, Any]) -> str:
        if self.sign_with == "unknown-kid":
            return self.key.sign(claims, kid="not-published")
        if self.sign_with == "wrong-key":  # a forger's key under the published kid
            return SigningKey(self.key.kid, self.key.alg).sign(claims)
        if self.sign_with in ("none", "hs256-public"):
            alg = "none" if self.sign_with == "none" else "HS256"
            head = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": self.key.kid}).encode())
            body = _b64(json.dumps(claims).encode())
            if alg == "none":
                return f"{head}.{body}."
            # the classic confusion: the provider's public key used as an HMAC secret
            mac = hmac.new(self.key.public_pem(), f"{head}.{body}".encode(), hashlib.sha256)
            return f"{head}.{body}.{_b64(mac.digest())}"
        return self.key.sign(claims)
