"""Owner tokens: a run's creator gets a random token; the store keeps only its SHA-256."""

import hashlib
import hmac
import secrets


def new_token() -> tuple[str, str]:
    """(the token to give the run's creator, its hash to keep)."""
    token = secrets.token_urlsafe(24)
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_matches(token: str, expected_hash: str | None, admin_token: str | None) -> bool:
    """Whether `token` is the one hashed as `expected_hash`, or the server's admin token; in
    constant time, so that the answer's timing tells nothing of either."""
    if admin_token and hmac.compare_digest(token.encode(), admin_token.encode()):
        return True
    return expected_hash is not None and hmac.compare_digest(hash_token(token), expected_hash)
