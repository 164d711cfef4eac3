"""Flask blueprints: thin layers that parse a request, call the ledger, render."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import events, health, home, install

    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(events.bp)
