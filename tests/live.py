"""The app served over real HTTP on a free port, for flows where a portal
(the emulator) calls us: installs, events, frames."""
from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

CLIENT_ID = "app.hourbook.test"
CLIENT_SECRET = "test-client-secret"


@contextmanager
def serve_app(emu, config: Mapping[str, Any]) -> Iterator[tuple[Any, str]]:
    """create_app() behind a real server whose URL the app knows (PUBLIC_URL)."""
    from app import create_app

    holder: dict[str, Any] = {}
    server = make_server("127.0.0.1", 0, lambda env, start: holder["app"](env, start), threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app = create_app({
        "B24_CLIENT_ID": CLIENT_ID, "B24_CLIENT_SECRET": CLIENT_SECRET,
        "B24_OAUTH_SERVER": emu.url + "/", "PUBLIC_URL": url, "START_RUNNER": False,
        "B24_RATE_PER_S": 1000.0, "B24_BURST": 100000, **config,
    })
    holder["app"] = app
    emu.register_app(CLIENT_ID, CLIENT_SECRET, url)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, url
    finally:
        server.shutdown()
        app.extensions["hourbook"].engine.dispose()
