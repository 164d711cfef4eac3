"""Tokens at rest, for every host (Bitrix24 portals, amoCRM accounts):
encrypted with a key from the configuration, never stored or logged in
the clear. The application token, which we only ever compare, is kept as
a keyed hash."""
from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, secret_key: str) -> None:
        if not secret_key:
            raise ValueError("a secret key is required to store tokens")
        # Separate keys for separate uses, both derived from SECRET_KEY.
        enc = hashlib.sha256(b"hourbook/tokens\0" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(enc))
        self._mac_key = hashlib.sha256(b"hourbook/compare\0" + secret_key.encode()).digest()

    def seal(self, value: str | None) -> str | None:
        if value is None:
            return None
        return self._fernet.encrypt(value.encode()).decode()

    def open(self, sealed: str | None) -> str | None:
        if sealed is None:
            return None
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise ValueError("a stored token cannot be decrypted with this SECRET_KEY") from None

    def digest(self, value: str) -> str:
        return hmac.new(self._mac_key, value.encode(), hashlib.sha256).hexdigest()

    def matches(self, value: str | None, digest: str | None) -> bool:
        """Constant-time comparison of `value` with a stored digest."""
        if not value or not digest:
            return False
        return hmac.compare_digest(self.digest(value), digest)
