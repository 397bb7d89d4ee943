"""Whether the services would still take a signed-in token, judged as they judge it: by the kit's
authenticator of this process (the platform's public key, and the revocation bucket
``robson token revoke`` writes, which the authenticator watches for the process's life)."""

from __future__ import annotations

from robson_kit.auth import Authenticator
from robson_kit.auth.tokens import TokenRejected


def refusal(auth: Authenticator, token: str | None) -> str | None:
    """The reason code the services would answer 401 with (``TOKEN_REVOKED``, ``TOKEN_EXPIRED``…),
    None while they take the token. Without a public key (a local platform without tokens) or
    without a token, there is nothing to judge here: the services alone decide."""
    if token is None or auth.public_key is None:
        return None
    try:
        auth.verify(token)
    except TokenRejected as exc:
        return exc.code
    return None
