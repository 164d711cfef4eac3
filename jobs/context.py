"""What a job needs, built from the settings once per process (and again
after a fork, so an rq work-horse never reuses its parent's connections):
the database, the token box, the app's OAuth credentials, Redis.

Jobs take ids, never live objects; `configure()` lets the app (and tests)
hand its settings to the jobs of this process.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

import settings
from b24.connection import AppCredentials, limiter_for, rest_for
from b24.client import Rest
from amocrm.connection import Integration
from hosts.amocrm import AmoCRMHost
from hosts.bitrix24 import Bitrix24Host
from hosts.secrets import SecretBox
from jobs.hints import Hints, LocalHints, RedisHints
from ledger.db import make_engine, make_session_factory


@dataclass
class JobContext:
    config: dict[str, Any]
    sessions: sessionmaker[Session]
    box: SecretBox
    app: AppCredentials | None
    redis: Any
    hints: Hints  # tasks named by events, waiting for sync_hinted_tasks

    def rest(self, portal_id: int, **options: Any) -> Rest:
        limiter = limiter_for(portal_id, self.redis, float(self.config.get("B24_RATE_PER_S", 2.0)),
                              int(self.config.get("B24_BURST", 50)))
        return rest_for(self.sessions, portal_id, self.box, self.app, limiter=limiter,
                        record_dir=self.config.get("RECORD_DIR"), **options)

    def bitrix24(self) -> Bitrix24Host:
        """Bitrix24 behind the host interface."""
        return Bitrix24Host(self.sessions, self.box, self.app, str(self.config.get("B24_OAUTH_SERVER") or ""),
                            str(self.config.get("PUBLIC_URL") or ""), rest=self.rest)

    def amocrm(self) -> AmoCRMHost | None:
        """amoCRM behind the host interface, when an integration is configured."""
        integration = amocrm_integration(self.config)
        return AmoCRMHost(self.sessions, self.box, integration, self.redis) if integration else None


_overrides: dict[str, Any] | None = None
_context: tuple[int, JobContext] | None = None
_local_hints = LocalHints()


def configure(config: Mapping[str, Any] | None) -> None:
    global _overrides, _context, _local_hints
    _overrides, _context, _local_hints = dict(config or {}), None, LocalHints()


def hints_for(redis: Any) -> Hints:
    """Where events leave their hints: Redis when the jobs run elsewhere,
    else this process (the jobs' thread and the web handler share it)."""
    return RedisHints(redis) if redis is not None else _local_hints


def app_credentials(config: Mapping[str, Any]) -> AppCredentials | None:
    if not config.get("B24_CLIENT_ID"):
        return None
    return AppCredentials(config["B24_CLIENT_ID"], config.get("B24_CLIENT_SECRET") or "",
                          config["B24_OAUTH_SERVER"].rstrip("/") + "/oauth/token/")


def amocrm_integration(config: Mapping[str, Any]) -> Integration | None:
    if not config.get("AMOCRM_CLIENT_ID") or not config.get("AMOCRM_CLIENT_SECRET"):
        return None
    redirect = config.get("AMOCRM_REDIRECT_URI") or str(config.get("PUBLIC_URL", "")).rstrip("/") + "/amocrm/oauth"
    dev = tuple(h.strip() for h in str(config.get("AMOCRM_DEV_HOSTS") or "").split(",") if h.strip())
    return Integration(config["AMOCRM_CLIENT_ID"], config["AMOCRM_CLIENT_SECRET"], redirect,
                       config.get("AMOCRM_CONSENT_URL") or "https://www.amocrm.ru/oauth", dev)


def context() -> JobContext:
    global _context
    if _context is None or _context[0] != os.getpid():
        config = settings.load(_overrides)
        redis = None
        if config.get("REDIS_URL"):
            import redis as redis_lib

            redis = redis_lib.Redis.from_url(config["REDIS_URL"])
        engine = make_engine(config["DATABASE_URL"])
        _context = (os.getpid(), JobContext(config, make_session_factory(engine), SecretBox(config["SECRET_KEY"]),
                                            app_credentials(config), redis, hints_for(redis)))
    return _context[1]


def sessions() -> sessionmaker[Session]:
    return context().sessions


@contextmanager
def transaction() -> Iterator[Session]:
    with sessions()() as session, session.begin():
        yield session
