"""OpenID Connect sign-in, the provider's side: discovery, keys, code exchange, ID token checks.

The server is a confidential client using the authorization code flow with PKCE (S256):

1. :meth:`OidcClient.authorization_url` sends the browser to the provider with a random
   ``state``, ``nonce`` and the PKCE challenge (routes_oidc.py keeps them server-side).
2. :meth:`OidcClient.exchange_code` trades the code the provider sent back, with the PKCE
   verifier and the client's credentials (``client_secret_basic`` unless the discovery
   document offers only ``client_secret_post``), for an ID token.
3. :meth:`OidcClient.verify_id_token` checks it: an asymmetric signature only (RS*/PS*/ES*;
   ``none`` and HS* are refused, so the provider's public key can never serve as an HMAC
   secret), by a key of the provider's JWKS (fetched again once when a token names an unknown
   ``kid``, at most once per JWKS_REFRESH_MIN_S, so forged ids cannot make us hammer the
   provider),
   ``iss``, ``aud`` (``azp`` when there are several audiences), ``exp``/``nbf``/``iat`` with
   LEEWAY_S of clock skew against the injected clock, and the ``nonce``.

The discovery document is cached for DISCOVERY_TTL_S. All HTTP goes through one httpx client
whose transport is injectable (tests serve a fake provider through ``httpx.MockTransport``).
Every failure is an :class:`OidcError` with an HTTP status (400/401 for what the browser or the
token got wrong, 502 for a provider that is down, slow or answers nonsense) and a message that
says what to do and never holds a code, a token or the client secret.

PyJWT (with ``cryptography``) does the JOSE work: the smallest maintained library that verifies
RS256/ES256 against a JWK; fetching and caching the JWKS is done here so it uses the same
injectable transport and clock.
"""

from __future__ import annotations

import threading

from .._struct import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Mapping

    import httpx
    from jwt import PyJWK

    _Keys = dict[str, tuple[PyJWK, dict[str, Any]]]  # kid -> (key, its JWK)

__all__ = ["DISCOVERY_TTL_S", "JWKS_REFRESH_MIN_S", "LEEWAY_S", "Discovery", "Identity",
           "OidcClient", "OidcError", "OidcSettings", "is_web_url",
           "oidc_settings_from_environ", "pkce_challenge"]

DISCOVERY_TTL_S = 3600.0
JWKS_REFRESH_MIN_S = 30.0
LEEWAY_S = 60.0
MAX_DOCUMENT_BYTES = 1_000_000  # discovery, JWKS and token answers are a few kB

# Which JWK key type (and curve) each accepted algorithm needs; nothing symmetric, never none.
_KEY_TYPE_BY_ALG: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None), "RS384": ("RSA", None), "RS512": ("RSA", None),
    "PS256": ("RSA", None), "PS384": ("RSA", None), "PS512": ("RSA", None),
    "ES256": ("EC", "P-256"), "ES384": ("EC", "P-384"), "ES512": ("EC", "P-521"),
}
CALLBACK_PATH = "/api/v1/oidc/callback"


class OidcError(Exception):
    """A sign-in that cannot go on: ``status`` for the answer, ``message`` safe to show and log."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class OidcSettings:
    """One OpenID provider; see :func:`oidc_settings_from_environ` for the variables."""

    issuer: str
    client_id: str
    client_secret: str = field(repr=False)  # never in a repr, a log line or a message
    redirect_url: str  # this server's public .../api/v1/oidc/callback
    auto_provision: bool = False  # create unknown users (viewer) from allowed_domains
    allowed_domains: tuple[str, ...] = ()
    default_organisation: str | None = None  # the slug new users join
    timeout_s: float = 10.0
    # where client_secret was read from, if a file: what serve hands its worker processes
    # instead of the secret itself (serving.settings_environ). Not compared: the same secret
    # is the same settings wherever it was read from.
    client_secret_file: str | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_auth_methods: tuple[str, ...]
    signing_algs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the provider says signed in (from a verified ID token)."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool


def _flag(environ: Mapping[str, str], name: str) -> bool:
    from ..errors import ConfigError

    text = environ.get(name, "").strip().lower()
    if text in ("", "0", "false", "no", "off"):
        return False
    if text in ("1", "true", "yes", "on"):
        return True
    raise ConfigError(f"{name}={text!r}: set it to true or false")


def is_web_url(url: str) -> bool:
    """An https:// URL with a host (plain http only for localhost): the issuer and redirect
    rule, shared with the config file's checks (settings_file.py)."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    return bool(parts.hostname) and (parts.scheme == "https"
                                     or (parts.scheme == "http" and local))


def _check_url(name: str, url: str) -> None:
    from ..errors import ConfigError

    if not is_web_url(url):
        raise ConfigError(f"{name}={url!r} is not an https:// URL (plain http only for "
                          "localhost): give the full URL")


def oidc_settings_from_environ(environ: Mapping[str, str]) -> OidcSettings | None:
    """OIDC sign-in from ``WATTPRINT_SERVER_OIDC_*``; None when no issuer is set (off).

    ``_ISSUER``, ``_CLIENT_ID``, ``_CLIENT_SECRET`` (or ``_CLIENT_SECRET_FILE``, read once) and
    ``_REDIRECT_URL`` (this server's public ``.../api/v1/oidc/callback``, as registered at the
    provider) are required together. ``_AUTO_PROVISION=true`` creates unknown users as viewers
    of the organisation ``_DEFAULT_ORG`` (its slug), only for e-mail domains listed in
    ``_ALLOWED_DOMAINS`` (comma-separated) and only when the provider verified the address.
    """
    from pathlib import Path

    from ..errors import ConfigError

    prefix = "WATTPRINT_SERVER_OIDC_"
    issuer = environ.get(prefix + "ISSUER", "").strip()
    if not issuer:
        return None
    secret = environ.get(prefix + "CLIENT_SECRET", "")
    secret_file = environ.get(prefix + "CLIENT_SECRET_FILE", "")
    read_from = secret_file if secret_file and not secret else None
    if read_from:
        try:
            secret = Path(secret_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{prefix}CLIENT_SECRET_FILE={secret_file!r} cannot be read "
                              f"({exc.strerror}): fix the path or its permissions")
    config = {"CLIENT_ID": environ.get(prefix + "CLIENT_ID", "").strip(),
              "CLIENT_SECRET": secret,
              "REDIRECT_URL": environ.get(prefix + "REDIRECT_URL", "").strip()}
    # each as the variable and as the config file's key: the value may come from either
    missing = [f"{prefix}{name} (oidc_{name.lower()})" for name, value in config.items()
               if not value]
    if missing:
        raise ConfigError(f"OIDC is on ({prefix}ISSUER or oidc_issuer is set) but "
                          f"{', '.join(missing)} is not: set it (the secret may come from "
                          f"{prefix}CLIENT_SECRET_FILE or oidc_client_secret_file), or unset "
                          "the issuer")
    _check_url(prefix + "ISSUER", issuer)
    _check_url(prefix + "REDIRECT_URL", config["REDIRECT_URL"])
    if not config["REDIRECT_URL"].endswith(CALLBACK_PATH):
        raise ConfigError(f"{prefix}REDIRECT_URL must be this server's public URL ending in "
                          f"{CALLBACK_PATH}")
    domains = tuple(d.strip().lower().lstrip("@") for d in
                    environ.get(prefix + "ALLOWED_DOMAINS", "").split(",") if d.strip())
    default_org = environ.get(prefix + "DEFAULT_ORG", "").strip() or None
    auto = _flag(environ, prefix + "AUTO_PROVISION")
    if auto and (not domains or default_org is None):
        raise ConfigError(f"{prefix}AUTO_PROVISION (oidc_auto_provision) needs "
                          f"{prefix}ALLOWED_DOMAINS (oidc_allowed_domains: who may get an "
                          f"account) and {prefix}DEFAULT_ORG (oidc_default_org: the "
                          "organisation slug they join as viewers)")
    return OidcSettings(issuer=issuer, client_id=config["CLIENT_ID"], client_secret=secret,
                        redirect_url=config["REDIRECT_URL"], auto_provision=auto,
                        allowed_domains=domains, default_organisation=default_org,
                        client_secret_file=read_from)


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of a PKCE verifier (RFC 7636): base64url(SHA-256), no padding."""
    import base64
    import hashlib

    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _provider_down(what: str, exc: Exception, timeout_s: float) -> OidcError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return OidcError(502, f"the identity provider did not answer the {what} within "
                              f"{timeout_s:g} s: try again later; if it persists, check the "
                              "provider's status")
    # the class name only: an exception's text may quote the request
    return OidcError(502, f"the identity provider could not be reached for the {what} "
                          f"({type(exc).__name__}): try again later; if it persists, check "
                          "WATTPRINT_SERVER_OIDC_ISSUER and the network")


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    import json

    if len(response.content) > MAX_DOCUMENT_BYTES:
        raise OidcError(502, f"the identity provider's {what} is over {MAX_DOCUMENT_BYTES} "
                             "bytes: check WATTPRINT_SERVER_OIDC_ISSUER")
    try:
        document = json.loads(response.content)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise OidcError(502, f"the identity provider's {what} is not a JSON object: check "
                             "WATTPRINT_SERVER_OIDC_ISSUER points at an OpenID provider")
    return document


def _text(document: Mapping[str, Any], name: str, what: str) -> str:
    value = document.get(name)
    if not isinstance(value, str) or not value:
        raise OidcError(502, f"the identity provider's {what} has no {name!r}: it is not a "
                             "usable OpenID provider configuration")
    return value


def _endpoint(document: Mapping[str, Any], name: str, issuer: str) -> str:
    """An endpoint URL of the discovery document: https, as the issuer (the client secret
    and the codes travel to it); plain http only for a provider on localhost."""
    from urllib.parse import urlsplit

    url = _text(document, name, "discovery document")
    parts, origin = urlsplit(url), urlsplit(issuer)
    local_http = origin.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")
    if not parts.hostname or not (parts.scheme == "https" or local_http):
        raise OidcError(502, f"the provider's discovery document gives {name} {url[:100]!r}, "
                             "not an https:// URL: refused, so no secret travels in clear; "
                             "fix the provider's configuration")
    return url


def _texts(document: Mapping[str, Any], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value = document.get(name)
    if value is None:
        return default
    if not isinstance(value, list):
        raise OidcError(502, f"the identity provider's discovery document has a malformed "
                             f"{name!r} (not a list)")
    return tuple(item for item in value if isinstance(item, str))


class OidcClient:
    """The server's side of one OpenID provider; thread-safe (routes run in a thread pool)."""

    def __init__(self, settings: OidcSettings, *, clock: Callable[[], float],
                 transport: httpx.BaseTransport | None = None) -> None:
        import httpx

        self.settings = settings
        self._clock = clock
        self._http = httpx.Client(transport=transport, follow_redirects=False,
                                  timeout=httpx.Timeout(settings.timeout_s))
        self._lock = threading.Lock()
        self._discovery: tuple[float, Discovery] | None = None
        self._keys: _Keys = {}
        self._keys_fetched = False
        self._forced_refresh_s: float | None = None

    def close(self) -> None:
        self._http.close()

    def _get(self, url: str, what: str) -> dict[str, Any]:
        import httpx

        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise _provider_down(what, exc, self.settings.timeout_s)
        if response.status_code != 200:
            raise OidcError(502, f"the identity provider answered HTTP {response.status_code} "
                                 f"for the {what}: try again later; if it persists, check "
                                 "WATTPRINT_SERVER_OIDC_ISSUER")
        return _json_object(response, what)

    def discovery(self) -> Discovery:
        """The provider's configuration, from cache while younger than DISCOVERY_TTL_S."""
        now_s = self._clock()
        with self._lock:
            if self._discovery is not None and now_s - self._discovery[0] < DISCOVERY_TTL_S:
                return self._discovery[1]
        issuer = self.settings.issuer
        what = "discovery document"
        document = self._get(issuer.rstrip("/") + "/.well-known/openid-configuration", what)
        found = _text(document, "issuer", what)
        if found != issuer:  # OpenID Connect Discovery 1.0, section 4.3
            raise OidcError(502, f"the provider's discovery document names issuer {found!r}, "
                                 f"not {issuer!r}: set WATTPRINT_SERVER_OIDC_ISSUER to exactly "
                                 "the provider's issuer")
        discovery = Discovery(
            issuer=issuer,
            authorization_endpoint=_endpoint(document, "authorization_endpoint", issuer),
            token_endpoint=_endpoint(document, "token_endpoint", issuer),
            jwks_uri=_endpoint(document, "jwks_uri", issuer),
            # the defaults the specification gives when a provider leaves these out
            token_auth_methods=_texts(document, "token_endpoint_auth_methods_supported",
                                      ("client_secret_basic",)),
            signing_algs=_texts(document, "id_token_signing_alg_values_supported", ("RS256",)))
        with self._lock:
            self._discovery = (now_s, discovery)
        return discovery

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        from urllib.parse import urlencode, urlsplit, urlunsplit

        endpoint = urlsplit(self.discovery().authorization_endpoint)
        query = urlencode({
            "response_type": "code", "client_id": self.settings.client_id,
            "redirect_uri": self.settings.redirect_url, "scope": "openid email profile",
            "state": state, "nonce": nonce,
            "code_challenge": pkce_challenge(code_verifier), "code_challenge_method": "S256"})
        joined = f"{endpoint.query}&{query}" if endpoint.query else query
        return urlunsplit(endpoint._replace(query=joined))

    def exchange_code(self, code: str, *, code_verifier: str) -> str:
        """The ID token the provider gives for ``code`` (the code itself is never logged)."""
        import base64
        from urllib.parse import quote_plus

        import httpx

        discovery = self.discovery()
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.settings.redirect_url, "code_verifier": code_verifier}
        headers = {"Accept": "application/json"}
        client_id, secret = self.settings.client_id, self.settings.client_secret
        if "client_secret_basic" in discovery.token_auth_methods:
            # RFC 6749 2.3.1: each part form-encoded before the Basic encoding
            pair = f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        elif "client_secret_post" in discovery.token_auth_methods:
            form |= {"client_id": client_id, "client_secret": secret}
        else:
            raise OidcError(502, "the identity provider offers neither client_secret_basic nor "
                                 "client_secret_post at its token endpoint: register wattprint "
                                 "there as a confidential client with a client secret")
        try:
            response = self._http.post(discovery.token_endpoint, data=form, headers=headers)
        except httpx.HTTPError as exc:
            raise _provider_down("token request", exc, self.settings.timeout_s)
        answer = _json_object(response, "token answer")
        if response.status_code != 200:
            raise _token_refusal(response.status_code, answer)
        id_token = answer.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise OidcError(502, "the identity provider's token answer has no id_token: is "
                                 "the client registered for OpenID Connect (scope openid)?")
        return id_token

    def _jwks(self, *, refresh: bool) -> _Keys:
        """The cached keys; fetched when there are none, or on ``refresh`` (an unknown kid)
        unless another unknown kid already made us fetch within JWKS_REFRESH_MIN_S."""
        now_s = self._clock()
        with self._lock:
            keys, forced_s = self._keys, self._forced_refresh_s
            if self._keys_fetched and not refresh:
                return keys
            if refresh and forced_s is not None and now_s - forced_s < JWKS_REFRESH_MIN_S:
                return keys
            if refresh:
                self._forced_refresh_s = now_s
        keys = _parse_jwks(self._get(self.discovery().jwks_uri, "key set (JWKS)"))
        with self._lock:
            self._keys, self._keys_fetched = keys, True
        return keys

    def _signing_key(self, header: Mapping[str, Any]) -> PyJWK:
        alg = header.get("alg")
        if alg not in _KEY_TYPE_BY_ALG or alg not in self.discovery().signing_algs:
            raise OidcError(401, f"the ID token is signed with {alg!r}, which this server does "
                                 "not accept (only the provider's asymmetric algorithms, never "
                                 "none or HS*): sign-in refused")
        kid = header.get("kid")
        for refresh in (False, True):  # an unknown kid may be a rotated key: fetch once more
            keys = self._jwks(refresh=refresh)
            if isinstance(kid, str) and kid in keys:
                key, jwk = keys[kid]
                break
            if kid is None and len(keys) == 1:
                key, jwk = next(iter(keys.values()))
                break
        else:
            raise OidcError(401, f"the ID token names signing key {kid!r}, which the provider "
                                 "does not publish: sign-in refused; try again in a minute if "
                                 "the provider has just rotated its keys")
        kty, crv = _KEY_TYPE_BY_ALG[alg]
        if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv) or (
                jwk.get("alg") not in (None, alg)):
            raise OidcError(401, f"the ID token's algorithm {alg!r} does not match its key "
                                 f"{kid!r}: sign-in refused")
        return key

    def verify_id_token(self, token: str, *, nonce: str) -> Identity:
        import hmac

        import jwt

        settings = self.settings
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise OidcError(401, "the ID token is not a signed JWT: sign-in refused")
        key = self._signing_key(header)
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=[header["alg"]], audience=settings.client_id,
                issuer=settings.issuer,
                # the times are checked below against the injected clock
                options={"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                         "require": ["iss", "sub", "aud", "exp", "iat"]})
        except jwt.InvalidSignatureError:
            raise OidcError(401, "the ID token's signature does not verify: sign-in refused")
        except jwt.InvalidAudienceError:
            raise OidcError(401, "the ID token is not meant for this server (aud does not "
                                 "include WATTPRINT_SERVER_OIDC_CLIENT_ID): sign-in refused")
        except jwt.InvalidIssuerError:
            raise OidcError(401, "the ID token comes from another issuer than "
                                 "WATTPRINT_SERVER_OIDC_ISSUER: sign-in refused")
        except jwt.MissingRequiredClaimError as exc:
            raise OidcError(401, f"the ID token lacks the {exc.claim!r} claim: sign-in refused")
        except jwt.PyJWTError as exc:
            raise OidcError(401, f"the ID token is malformed ({type(exc).__name__}): sign-in "
                                 "refused")
        _check_times(claims, self._clock())
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != settings.client_id:
            raise OidcError(401, "the ID token was issued to another client (azp): sign-in "
                                 "refused")
        sent = claims.get("nonce")
        if not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), nonce.encode()):
            raise OidcError(401, "the ID token's nonce is not this sign-in's (a replayed or "
                                 "mixed-up token): start again at /api/v1/oidc/login")
        subject, email = claims["sub"], claims.get("email")
        if not isinstance(subject, str) or not subject:
            raise OidcError(401, "the ID token's subject (sub) is empty: sign-in refused")
        verified = claims.get("email_verified")
        return Identity(issuer=settings.issuer, subject=subject,
                        email=email.strip().lower() if isinstance(email, str) else None,
                        # some providers send the string "true"
                        email_verified=verified is True or verified == "true")


def _token_refusal(status: int, answer: Mapping[str, Any]) -> OidcError:
    error = answer.get("error")
    code = error[:64] if isinstance(error, str) and error.isprintable() else "unknown"
    if code == "invalid_grant":  # the code is used, expired or not for this verifier/redirect
        return OidcError(400, "the identity provider refused the sign-in code (invalid_grant: "
                              "used, expired or from another sign-in): start again at "
                              "/api/v1/oidc/login")
    if code == "invalid_client" or status == 401:
        return OidcError(502, "the identity provider refused this server's client credentials "
                              f"({code}): check WATTPRINT_SERVER_OIDC_CLIENT_ID and _SECRET")
    return OidcError(502, f"the identity provider's token endpoint answered HTTP {status} "
                          f"({code}): check the client's registration at the provider")


def _check_times(claims: Mapping[str, Any], now_s: float) -> None:
    for name in ("exp", "iat", "nbf"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise OidcError(401, f"the ID token's {name!r} is not a number: sign-in refused")
    if now_s > claims["exp"] + LEEWAY_S:
        raise OidcError(401, "the ID token has expired: start again at /api/v1/oidc/login; "
                             "if it keeps happening, check this server's clock")
    if claims["iat"] > now_s + LEEWAY_S or claims.get("nbf", now_s) > now_s + LEEWAY_S:
        raise OidcError(401, "the ID token is not valid yet (iat/nbf in the future): check "
                             "this server's clock against the provider's")


def _parse_jwks(document: Mapping[str, Any]) -> _Keys:
    """Signing keys by kid (a key without kid under ""); keys we cannot use are skipped."""
    import jwt

    entries = document.get("keys")
    if not isinstance(entries, list):
        raise OidcError(502, "the identity provider's key set (JWKS) has no 'keys' list")
    keys: _Keys = {}
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if entry.get("kty") not in ("RSA", "EC"):
            continue  # symmetric or unknown key types are never used to verify
        try:
            key = jwt.PyJWK(entry)
        except jwt.PyJWTError:
            continue  # e.g. an algorithm or curve PyJWT does not know
        kid = entry.get("kid")
        keys[kid if isinstance(kid, str) else ""] = (key, entry)
    return keys
