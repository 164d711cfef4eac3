"""POST /install: the installer page the portal opens for the admin."""
from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template, request

from b24 import portals
from b24.client import AuthDead, RestError, Transient

bp = Blueprint("install", __name__)
log = logging.getLogger("hourbook.install")
REQUIRED = ("member_id", "AUTH_ID", "REFRESH_ID")


@bp.post("/install")
def install():
    form = {k: v for k, v in request.form.items()}
    missing = [k for k in REQUIRED if not form.get(k)]
    lang = "en" if request.args.get("LANG") == "en" else "ru"
    if missing:
        return render_template("install.html", ok=False, lang=lang,
                               reason="missing: " + ", ".join(missing)), 400
    hb = current_app.extensions["hourbook"]
    if hb.app_credentials is None:
        return render_template("install.html", ok=False, lang=lang, reason="app credentials not configured"), 503
    try:
        connected = portals.install(hb.sessions, hb.box, hb.app_credentials, current_app.config["B24_OAUTH_SERVER"],
                                    current_app.config["PUBLIC_URL"], form)
    except AuthDead as err:
        log.warning("install refused: %s", err.code)
        return render_template("install.html", ok=False, lang=lang, reason=err.code), 403
    except (Transient, RestError) as err:
        log.warning("install failed: %s", err.code)
        return render_template("install.html", ok=False, lang=lang, reason=err.code), 503
    hb.runner.enqueue(hb.jobs.sync_portal, connected.portal_id, True, True,
                      job_id=f"sync-{connected.portal_id}-full")
    return render_template("install.html", ok=True, lang=lang, created=connected.created)
