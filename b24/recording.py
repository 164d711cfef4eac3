"""Recording what the gateway exchanges with a portal, so live answers become tests.

`python app.py sync --record DIR` (and `doctor --record DIR`, and the web
process with HOURBOOK_RECORD_DIR) writes one JSON file per HTTP exchange:
the method, the parameters as sent, the HTTP status and the answer. A file
dropped into tests/conformance/pairs/recorded/ is replayed against the
emulator and compared by shape (tests/conformance/).

Nothing identifying reaches the disk. Before a file is written:
- credentials are blanked wherever they appear: the `auth` parameter,
  tokens, application tokens, client secrets, the webhook's secret (it is
  part of the URL) — as values under their keys and as substrings anywhere;
- the portal is anonymised: member_id, domain and endpoints;
- people are anonymised: names, e-mails, phones, photos, logins, and the
  free text people write (comments, titles, descriptions, messages), which
  often carries names.
A redacted value keeps its JSON type (a string stays a string, "" stays
""), so the recording still tells the shape of the answer, which is what
the replay compares. Ids, numbers, dates, flags and paging fields are kept:
they are the shape and hold nothing personal.
"""
from __future__ import annotations

import itertools
import json
import os
import re
import threading
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REDACTED = "REDACTED"

# Keys (compared upper-case) whose string values are credentials or identify
# the portal: blanked wherever they are.
SECRET_KEYS = {
    "AUTH", "ACCESS_TOKEN", "REFRESH_TOKEN", "APPLICATION_TOKEN", "AUTH_ID", "REFRESH_ID", "CLIENT_SECRET",
    "MEMBER_ID", "DOMAIN", "CLIENT_ENDPOINT", "SERVER_ENDPOINT", "HANDLER", "APP_SID", "PASSWORD",
}
# Keys whose values are about people, or free text people write.
PERSONAL_KEYS = {
    "NAME", "LAST_NAME", "SECOND_NAME", "EMAIL", "LOGIN", "TITLE", "DESCRIPTION", "COMMENT_TEXT", "MESSAGE",
    "WORK_POSITION", "WORK_PHONE", "WORK_COMPANY", "UF_PHONE_INNER", "ICON", "LINK", "PHOTO", "AVATAR",
    "TAGS_TEXT", "FULL_NAME", "FORMATTED_NAME", "COMMENTS",
}
PERSONAL_PREFIXES = ("PERSONAL_", "UF_SKYPE", "UF_TWITTER", "UF_FACEBOOK", "UF_LINKEDIN", "UF_XING", "UF_WEB")


def _normal(key: str) -> str:
    # camelCase (tasks.task.list answers) and snake_case both become SNAKE.
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", str(key)).upper()


def _is_sensitive(key: str) -> bool:
    name = _normal(key)
    return name in SECRET_KEYS or name in PERSONAL_KEYS or name.startswith(PERSONAL_PREFIXES)


def _blank(value: Any) -> Any:
    """A value of the same JSON type that says nothing."""
    if isinstance(value, str):
        return REDACTED if value else ""
    if isinstance(value, list):
        return [_blank(v) for v in value]
    if isinstance(value, dict):
        return {k: _blank(v) for k, v in value.items()}
    return value  # numbers, booleans and nulls name nobody


def redact(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`value` with every sensitive key blanked and every known secret
    (tokens, the webhook secret, the portal's domain) cut out of any string."""
    needles = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for needle in needles:
            text = text.replace(needle, REDACTED)
        return text

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: _blank(v) if _is_sensitive(k) else walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str):
            return scrub(node)
        return node

    return walk(value)


def endpoint_secrets(endpoint: str) -> list[str]:
    """What an endpoint URL gives away: its host, and for an incoming webhook
    (`…/rest/<user>/<secret>/`) the secret."""
    parts = urlsplit(endpoint)
    found = [parts.netloc, parts.hostname or ""]
    path = [p for p in parts.path.split("/") if p]
    if len(path) >= 3 and path[-3] == "rest":
        found.append(path[-1])
    # The emulator's endpoints carry the portal's domain in the path (/p/<domain>/rest/).
    found.extend(p for p in path if "." in p)
    return found


class Recorder:
    """Writes one file per exchange into `folder`. Safe for threads and for
    several processes sharing the folder: a name holds the time, the process
    and a counter, and each file is written whole before it appears."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def __call__(self, method: str, params: Any, status: int, answer: Any, secrets: Iterable[str] = ()) -> Path:
        secrets = list(secrets)
        record = {
            "method": method,
            "request": {"params": redact(params, secrets)},
            "response": {"status": status, "body": redact(answer, secrets)},
            "source": "recorded by Hourbook's gateway (b24/recording.py)",
            "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        with self._lock:
            n = next(self._counter)
        safe_method = re.sub(r"[^A-Za-z0-9_.-]", "_", method)[:80]
        name = f"{time.time_ns()}-{os.getpid()}-{n:05d}-{safe_method}.json"
        path = self.folder / name
        partial = self.folder / f".{name}.part"
        partial.write_text(json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return path


_BY_FOLDER: dict[str, Recorder] = {}


def from_environment() -> Recorder | None:
    """The recorder HOURBOOK_RECORD_DIR asks for, one per folder and process."""
    folder = os.environ.get("HOURBOOK_RECORD_DIR")
    if not folder:
        return None
    if folder not in _BY_FOLDER:
        _BY_FOLDER[folder] = Recorder(folder)
    return _BY_FOLDER[folder]
