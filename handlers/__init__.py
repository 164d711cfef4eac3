"""Flask blueprints: thin layers that parse a request, call the ledger, render."""
from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    from . import amocrm, cabinet, doctor, events, health, home, i18n, install, manager, steering, widget

    i18n.init_app(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(home.bp)
    app.register_blueprint(install.bp)
    app.register_blueprint(events.bp)
    app.register_blueprint(widget.bp)
    app.register_blueprint(cabinet.bp)
    app.register_blueprint(manager.bp)
    app.register_blueprint(steering.bp)
    app.register_blueprint(doctor.bp)
    amocrm.register(app)
    widget.register_errors(app)
    from . import projects  # issue 16: implementation projects
    app.register_blueprint(projects.bp)

    from . import acts  # the monthly acts and the weekly call's notes

    app.register_blueprint(acts.bp)

    @app.before_request
    def refuse_broken_forms():
        """A query string or a page's form that is not UTF-8 is refused
        before any handler reads it (a server may pass raw bytes through,
        PEP 3333; werkzeug would raise on reading them)."""
        from flask import abort, request

        from .fields import body_is_utf8

        try:
            request.args  # noqa: B018  (decoded here, once)
        except UnicodeDecodeError:
            abort(400, description="the query string is not UTF-8")
        if request.method == "POST" and request.path.startswith(("/app", "/widget", "/frame", "/amocrm", "/cabinet")) \
                and not body_is_utf8():
            abort(400, description="the form is not UTF-8")
