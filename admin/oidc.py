"""OpenID Connect sign-in: authorization code flow with PKCE (S256), discovery, ID token checks, roles.

authlib's httpx client builds the authorization URL and redeems the code; the ID token is
verified with joserfc (authlib's JOSE successor) against the provider's JWKS: signature,
``iss``, ``aud`` (and ``azp`` when there are several audiences), ``exp``, ``iat`` and the
``nonce`` sent with the request. Claims from the userinfo endpoint are merged in (same ``sub``).

The role comes from one claim (``oidc_role_claim``, a dotted path such as ``realm_access.roles``;
a list, or a string of space- or comma-separated values) mapped through ``oidc_role_map``;
``admin`` wins over ``reviewer``; no mapped value means no access.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from admin.settings import ConsoleSettings

_ALLOWED_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_METADATA_TTL = 3600.0
_LEEWAY_SECONDS = 60
CALLBACK_PATH = "/admin/oidc/callback"


class OidcError(Exception):
    """Sign-in through the identity provider failed; the message is safe to show."""


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What the console keeps between sending the browser to the provider and its return."""

    url: str
    state: str
    code_verifier: str
    nonce: str


@dataclass(frozen=True, slots=True)
class OidcLogin:
    issuer: str
    subject: str
    role: str | None
    name: str
    email: str
    role_values: tuple[str, ...]


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def claim_values(claims: dict[str, Any], path: str) -> tuple[str, ...]:
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return ()
        value = value.get(part)
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.replace(",", " ").split() if v)
    if isinstance(value, (list, tuple)):
        return tuple(str(v) for v in value)
    return (str(value),)


def map_role(values: tuple[str, ...], mapping: dict[str, str]) -> str | None:
    roles = {mapping[v] for v in values if v in mapping}
    if "admin" in roles:
        return "admin"
    return "reviewer" if "reviewer" in roles else None


class OidcClient:
    """One configured provider; discovery and keys are cached for an hour (keys refetched on an unknown ``kid``)."""

    def __init__(self, settings: ConsoleSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.issuer = settings.oidc_issuer or ""
        self._transport = transport
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None

    def _client(self, redirect_uri: str) -> AsyncOAuth2Client:
        secret = self.settings.oidc_client_secret
        return AsyncOAuth2Client(
            client_id=self.settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=self.settings.oidc_scopes,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=10.0,
            transport=self._transport,
        )

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is not None and time.monotonic() - self._metadata_at < _METADATA_TTL:
            return self._metadata
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            async with httpx.AsyncClient(timeout=10.0, transport=self._transport) as http:
                response = await http.get(url)
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"the identity provider's discovery document could not be read ({exc})") from exc
        if str(document.get("issuer", "")).rstrip("/") != self.issuer:
            raise OidcError(f"the discovery document names issuer {document.get('issuer')!r}, not {self.issuer!r}")
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not document.get(field):
                raise OidcError(f"the discovery document has no {field}")
        self._metadata, self._metadata_at, self._keys = document, time.monotonic(), None
        return document

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is not None and not refresh:
            return self._keys
        metadata = await self.metadata()
        try:
            async with httpx.AsyncClient(timeout=10.0, transport=self._transport) as http:
                response = await http.get(metadata["jwks_uri"])
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            raise OidcError(f"the identity provider's keys could not be read ({exc})") from exc
        return self._keys

    async def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to end the provider's session too (RP-initiated logout), or ``None``
        when the provider has no ``end_session_endpoint`` or cannot be reached (the console's logout stands)."""
        try:
            endpoint = (await self.metadata()).get("end_session_endpoint")
        except OidcError:
            return None
        if not endpoint:
            return None
        query = urlencode(
            {"client_id": self.settings.oidc_client_id, "post_logout_redirect_uri": post_logout_redirect_uri}
        )
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    async def begin(self, redirect_uri: str) -> AuthRequest:
        metadata = await self.metadata()
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)[:96]
        async with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata["authorization_endpoint"], state=state, code_verifier=code_verifier, nonce=nonce
            )
        return AuthRequest(url, state, code_verifier, nonce)

    async def complete(self, code: str, code_verifier: str, nonce: str, redirect_uri: str) -> OidcLogin:
        metadata = await self.metadata()
        async with self._client(redirect_uri) as client:
            try:
                token = await client.fetch_token(
                    metadata["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    redirect_uri=redirect_uri,
                )
            except (OAuth2Error, httpx.HTTPError, ValueError) as exc:
                raise OidcError(f"the identity provider refused the authorization code ({exc})") from exc
            if not token.get("id_token"):
                raise OidcError("the identity provider returned no ID token (is the 'openid' scope allowed?)")
            claims = await self._verify_id_token(token["id_token"], nonce, metadata)
            if metadata.get("userinfo_endpoint") and token.get("access_token"):
                claims = {**claims, **await self._userinfo(client, metadata["userinfo_endpoint"], claims["sub"])}
        values = claim_values(claims, self.settings.oidc_role_claim)
        return OidcLogin(
            issuer=self.issuer,
            subject=str(claims["sub"]),
            role=map_role(values, self.settings.oidc_role_map),
            name=str(claims.get("name") or claims.get("preferred_username") or claims.get("email") or claims["sub"]),
            email=str(claims.get("email") or ""),
            role_values=values,
        )

    async def _userinfo(self, client: AsyncOAuth2Client, url: str, subject: str) -> dict[str, Any]:
        try:
            response = await client.get(url)
            response.raise_for_status()
            info = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise OidcError(f"the identity provider's userinfo endpoint failed ({exc})") from exc
        if not isinstance(info, dict) or str(info.get("sub")) != subject:
            raise OidcError("the userinfo response is for a different subject")
        return info

    async def _verify_id_token(self, id_token: str, nonce: str, metadata: dict[str, Any]) -> dict[str, Any]:
        offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [a for a in offered if a in _ALLOWED_ALGORITHMS]
        if not algorithms:
            raise OidcError(f"the identity provider signs ID tokens with none of {list(_ALLOWED_ALGORITHMS)}")
        try:
            try:
                decoded = jwt.decode(id_token, await self._key_set(), algorithms=algorithms)
            except JoseError:
                decoded = jwt.decode(id_token, await self._key_set(refresh=True), algorithms=algorithms)
            registry = jwt.JWTClaimsRegistry(
                leeway=_LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.settings.oidc_client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise OidcError(f"the ID token is not valid ({exc})") from exc
        claims = decoded.claims
        audience = claims.get("aud")
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.settings.oidc_client_id:
            raise OidcError("the ID token has several audiences and its azp is not this client")
        return claims
