"""Hourbook's app factory. `python app.py …` runs the command line, which
lives in `commands/` (it builds the app through `create_app`)."""
from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.glogging import Logger as GunicornLogger
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

import handlers
import jobs.context as jobs_context
import jobs.tasks as jobs_tasks
import settings
from b24.connection import AppCredentials
from hosts.secrets import SecretBox
from jobs.runner import InProcessRunner, RqRunner
from handlers import db as request_db
from handlers.events import KnownTokens, TaskEventsFastPath
from ledger import schema
from ledger.db import make_engine, make_session_factory


@dataclass
class Hourbook:
    """What the app shares with handlers: the database, the token box, the
    job runner and the job functions it runs."""

    engine: Engine
    known_tokens: Any  # handlers.events.KnownTokens: application tokens lately proven good
    sessions: sessionmaker[Session]
    readers: sessionmaker[Session]  # read-only pages: never wait behind a sync's write
    box: SecretBox
    runner: Any
    app_credentials: AppCredentials | None
    jobs: Any
    hints: Any  # jobs.hints: the tasks task events named, for jobs.tasks.sync_hinted_tasks


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app; `config` overrides the environment (tests, scripts)."""
    conf = settings.load(config)
    app = Flask(__name__, instance_path=conf["INSTANCE_PATH"])
    app.config.update(conf)
    engine = make_engine(conf["DATABASE_URL"])
    if conf.get("AUTO_MIGRATE", True):
        schema.upgrade(engine)
    jobs_context.configure(conf)
    redis_connection = None
    if conf.get("REDIS_URL"):
        import redis

        redis_connection = redis.Redis.from_url(conf["REDIS_URL"])
        runner: Any = RqRunner(redis_connection)
    else:
        runner = InProcessRunner()
        if conf.get("START_RUNNER"):
            from jobs.schedule import Scheduler

            runner.start()
            Scheduler(runner).start()
    readers = make_session_factory(make_engine(conf["DATABASE_URL"], read_only=True))
    app.extensions["hourbook"] = Hourbook(engine, KnownTokens(redis_connection), make_session_factory(engine), readers,
                                          SecretBox(conf["SECRET_KEY"]), runner, jobs_context.app_credentials(conf),
                                          jobs_tasks, jobs_context.hints_for(redis_connection))
    app.teardown_appcontext(request_db.close)
    handlers.register(app)
    app.wsgi_app = TaskEventsFastPath(app.wsgi_app, app.extensions["hourbook"])  # type: ignore[method-assign]
    return app


class QuietAccessLog(GunicornLogger):
    """gunicorn's access log without the accepted events: a portal sends
    them by the hundred a second at times, and writing each line cost a
    third of answering it; a refused event is still logged."""

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        if environ.get("PATH_INFO") == "/events" and (resp.status_code or 500) < 400:
            return
        super().access(resp, req, environ, request_time)



if __name__ == "__main__":
    from commands import main

    sys.exit(main())
