"""Configuration from the environment, with safe defaults.

DATABASE_URL  default: a SQLite file under instance/
REDIS_URL     unset: jobs run in the in-process runner
SECRET_KEY    unset: generated once and kept in instance/secret_key (never a constant in code)
B24_CLIENT_ID, B24_CLIENT_SECRET, B24_OAUTH_SERVER   the marketplace app and its OAuth server
PUBLIC_URL    our address as portals call it (default http://127.0.0.1:5000)
AMOCRM_CLIENT_ID, AMOCRM_CLIENT_SECRET   the amoCRM integration (its id and secret key)
AMOCRM_REDIRECT_URI   as registered with it (default PUBLIC_URL/amocrm/oauth)
AMOCRM_CONSENT_URL    amoCRM's consent page (default https://www.amocrm.ru/oauth)
AMOCRM_DEV_HOSTS      hosts that stand in for amoCRM accounts over http (the emulator), comma-separated
SMTP_URL      smtp://user:pass@host:25, smtp+starttls://…:587 or smtps://…:465; unset: e-mails go to instance/outbox/
MAIL_FROM     the reports' sender (default hourbook@localhost)
"""
from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent


def _secret_key(instance: Path) -> str:
    path = instance / "secret_key"
    if not path.exists():
        # Write the key to a private (0600) temporary file, then link it into
        # place: the key appears whole or not at all, and when several
        # processes start at once (gunicorn workers) the first link wins and
        # every process reads that one key.
        fd, tmp = tempfile.mkstemp(dir=instance, prefix=".secret_key.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
            try:
                os.link(tmp, path)
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    key = path.read_text().strip()
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new key")
    return key


def load(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The settings: `overrides` (tests, scripts) beat the environment, which
    beats the defaults."""
    given = dict(overrides or {})

    def pick(name: str, default: Any = None) -> Any:
        if name in given:
            return given[name]
        return os.environ.get(name) or default

    instance = Path(pick("INSTANCE_PATH", ROOT / "instance")).resolve()
    instance.mkdir(parents=True, exist_ok=True)
    config = {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": pick("DATABASE_URL", f"sqlite:///{instance / 'hourbook.db'}"),
        "REDIS_URL": pick("REDIS_URL") or None,
        "SECRET_KEY": pick("SECRET_KEY") or _secret_key(instance),
        "MAX_CONTENT_LENGTH": int(pick("MAX_CONTENT_LENGTH", 1024 * 1024)),
        # The Bitrix24 app (Market card): credentials and where its OAuth server is.
        "B24_CLIENT_ID": pick("B24_CLIENT_ID") or None,
        "B24_CLIENT_SECRET": pick("B24_CLIENT_SECRET") or None,
        "B24_OAUTH_SERVER": pick("B24_OAUTH_SERVER", "https://oauth.bitrix.info/"),
        # Our own address as the portal must call it (event and placement handlers).
        "PUBLIC_URL": pick("PUBLIC_URL", "http://127.0.0.1:5000"),
        # The amoCRM integration (amocrm/FACTS.md §1.1); unset: amoCRM is off.
        "AMOCRM_CLIENT_ID": pick("AMOCRM_CLIENT_ID") or None,
        "AMOCRM_CLIENT_SECRET": pick("AMOCRM_CLIENT_SECRET") or None,
        "AMOCRM_REDIRECT_URI": pick("AMOCRM_REDIRECT_URI") or None,
        "AMOCRM_CONSENT_URL": pick("AMOCRM_CONSENT_URL", "https://www.amocrm.ru/oauth"),
        "AMOCRM_DEV_HOSTS": pick("AMOCRM_DEV_HOSTS", ""),
        # Reports and alerts by e-mail; without SMTP_URL they are written to instance/outbox/.
        "SMTP_URL": pick("SMTP_URL") or None,
        "MAIL_FROM": pick("MAIL_FROM", "Hourbook <hourbook@localhost>"),
        # Run jobs and the schedule in this process (the demo, `serve` without
        # Redis); command-line tools and tests leave it off.
        "START_RUNNER": str(pick("START_RUNNER", "0")).lower() in ("1", "true", "yes"),
        # Write every REST exchange with the portals here, redacted (b24/recording.py):
        # live answers that become conformance tests (tests/conformance/).
        "RECORD_DIR": given.get("RECORD_DIR") or pick("HOURBOOK_RECORD_DIR") or None,
    }
    for key, value in given.items():
        config.setdefault(key, value)
    return config
