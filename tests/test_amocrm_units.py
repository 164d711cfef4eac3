"""amoCRM pieces without a world: the widget archive, the disposable-token
checks, which referers are believed, the disconnect hook's signature, and
that both hosts answer the host interface."""
from __future__ import annotations

import hashlib
import hmac
import inspect
import json
import struct
import subprocess
import sys
import time
import zipfile
from io import BytesIO
from pathlib import Path

import jwt
import pytest

from amocrm import widget as builder
from amocrm.accounts import hook_signature_ok
from amocrm.connection import Integration, base_url
from amocrm.disposable import Refused, SeenTokens, verify
from hosts import Host
from hosts.amocrm import AmoCRMHost
from hosts.bitrix24 import Bitrix24Host

ROOT = Path(__file__).resolve().parent.parent
AMO = Integration("5a0c1f2e-7b3d-4c8e-9f10-112233445566", "integration-secret-0123456789abcdef0123",
                  "https://hourbook.example/amocrm/oauth")


# ---------------------------------------------------------------- the archive


def test_the_archive_is_what_amocrm_asks_for():
    contents = builder.files("https://hourbook.example")
    z = zipfile.ZipFile(BytesIO(builder.archive(contents)))
    names = set(z.namelist())
    # Files at the archive's root (§4.1: a top-level folder is a typical mistake).
    assert {"manifest.json", "script.js", "i18n/ru.json", "i18n/en.json", "images/logo_min.png",
            "images/logo_medium.png", "images/logo_main.png", "images/logo_small.png"} <= names
    assert not any(n.startswith("widget/") for n in names)
    for name in names:
        assert not z.read(name).startswith(b"\xef\xbb\xbf"), f"{name} starts with a BOM"
    manifest = json.loads(z.read("manifest.json"))
    w = manifest["widget"]
    assert w["interface_version"] == 2 and w["locale"] == ["ru", "en"] and w["init_once"] is False
    assert {"comcard-1", "lcard-1"} <= set(manifest["locations"])
    # The moderation rules (FACTS.md §4.3): `settings` present, only the areas used, no Cyrillic or
    # .ru in the English file, no "amoCRM" in our names, Unix line ends.
    assert manifest["settings"] == {} and set(manifest["locations"]) == {"comcard-1", "lcard-1"}
    english = z.read("i18n/en.json").decode("utf-8")
    assert not any("а" <= c.lower() <= "я" for c in english) and ".ru" not in english
    for lang in ("ru", "en"):
        assert "amocrm" not in json.loads(z.read(f"i18n/{lang}.json"))["widget"]["name"].lower()
    for name in names:
        if name.endswith((".js", ".json")):
            assert b"\r\n" not in z.read(name)
    # Names are i18n keys, present in both languages, with the same keys.
    ru, en = (json.loads(z.read(f"i18n/{lang}.json")) for lang in ("ru", "en"))
    for key in ("name", "description", "short_description"):
        assert w[key] == f"widget.{key}" and ru["widget"][key] and en["widget"][key]
    assert ru.keys() == en.keys() and ru["userLang"].keys() == en["userLang"].keys()
    # Image sizes as listed (§4.1), each under 300 KB.
    for name, width, height in builder.IMAGES:
        data = z.read(f"images/{name}")
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < 300 * 1024
        assert struct.unpack(">II", data[16:24]) == (width, height)


def test_the_script_is_an_amd_module_calling_our_address_with_the_disposable_token():
    script = builder.script("https://hourbook.example/")
    assert script.lstrip().startswith("/*") and "define([], function ()" in script
    assert '"https://hourbook.example"' in script and "__HOURBOOK_URL__" not in script
    assert "$authorizedAjax" in script and "/amocrm/widget" in script
    for callback in ("render:", "init:", "bind_actions:", "destroy:"):
        assert callback in script
    assert "document.cookie" not in script and "withCredentials" not in script and "credentials" not in script
    with pytest.raises(ValueError):
        builder.script("javascript:alert(1)")
    with pytest.raises(ValueError):
        builder.script('https://x.example/"+alert(1)+"')


def test_the_archive_is_the_same_bytes_each_time():
    a = builder.archive(builder.files("https://hourbook.example", "1.2.3"))
    b = builder.archive(builder.files("https://hourbook.example", "1.2.3"))
    assert a == b


def test_the_command_line_builds_it(tmp_path: Path):
    done = subprocess.run([sys.executable, "app.py", "amocrm", "widget", "--out", str(tmp_path / "w"),
                           "--url", "https://hourbook.example"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    out = tmp_path / "w"
    assert (out / "manifest.json").exists() and (out / "script.js").exists() and (out / "widget.zip").exists()
    assert (out / "i18n" / "ru.json").exists() and (out / "images" / "logo_min.png").exists()
    bad = subprocess.run([sys.executable, "app.py", "amocrm", "widget", "--out", str(tmp_path / "x"),
                          "--url", "not a url"], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={"INSTANCE_PATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


# ---------------------------------------------------------------- disposable tokens (§5)


def claims(**changes):
    now = int(time.time())
    body = {"iss": "https://klient.amocrm.ru", "aud": "https://hourbook.example", "jti": "d628f123-5123-473e-a123",
            "iat": now, "nbf": now, "exp": now + 1800, "account_id": 12345678, "user_id": 87654321,
            "subdomain": "klient", "client_uuid": AMO.client_id}
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


def sign(body, key=AMO.client_secret, alg="HS256"):
    return jwt.encode(body, key, algorithm=alg)


def test_a_token_amocrm_signed_for_us_names_its_caller():
    caller = verify(sign(claims()), AMO)
    assert (caller.amo_account_id, caller.user_id, caller.subdomain) == (12345678, 87654321, "klient")
    # The audience with the port, as the emulator and a redirect URI with a port give it.
    with_port = Integration(AMO.client_id, AMO.client_secret, "http://127.0.0.1:5000/amocrm/oauth")
    assert verify(sign(claims(aud="http://127.0.0.1:5000")), with_port).amo_account_id == 12345678


@pytest.mark.parametrize("case, token", [
    ("another key", lambda: sign(claims(), "a-different-secret-of-enough-length-000")),
    ("expired", lambda: sign(claims(iat=int(time.time()) - 4000, nbf=int(time.time()) - 4000,
                                    exp=int(time.time()) - 1000))),
    ("not yet", lambda: sign(claims(nbf=int(time.time()) + 600))),
    ("lives too long", lambda: sign(claims(exp=int(time.time()) + 86400))),
    ("other audience", lambda: sign(claims(aud="https://evil.example"))),
    ("no audience", lambda: sign(claims(aud=None))),
    ("other integration", lambda: sign(claims(client_uuid="0b0832f6-d123-4123-9123-e73f236833c"))),
    ("no integration", lambda: sign(claims(client_uuid=None))),
    ("account as text", lambda: sign(claims(account_id="12345678"))),
    ("account as bool", lambda: sign(claims(account_id=True))),
    ("no user", lambda: sign(claims(user_id=None))),
    ("no jti", lambda: sign(claims(jti=None))),
    ("HS512", lambda: sign(claims(), alg="HS512")),
    ("none", lambda: jwt.encode(claims(), None, algorithm="none")),
    ("empty", lambda: ""),
    ("huge", lambda: "a" * 10000),
    ("garbage", lambda: "a.b.c"),
])
def test_anything_else_is_refused(case, token):
    with pytest.raises(Refused):
        verify(token(), AMO)


def test_a_token_is_used_once():
    seen = SeenTokens()
    caller = verify(sign(claims()), AMO)
    assert seen.first_use(caller) and not seen.first_use(caller)
    assert seen.first_use(verify(sign(claims(jti="another-jti-0001")), AMO))


# ---------------------------------------------------------------- referers and the hook


@pytest.mark.parametrize("referer, expected", [
    ("klient.amocrm.ru", "https://klient.amocrm.ru"), ("KLIENT.amocrm.ru", "https://klient.amocrm.ru"),
    ("https://klient.amocrm.ru", "https://klient.amocrm.ru"), ("klient.kommo.com", "https://klient.kommo.com"),
    ("klient.amocrm.com", "https://klient.amocrm.com"),
    ("evil.example.com", None), ("amocrm.ru", None), ("a.b.amocrm.ru", None), ("klient.amocrm.ru.evil.com", None),
    ("klient.amocrm.ru:8443", None), ("127.0.0.1:5001", None), ("", None), ("klient.amocrm.ru/x", None),
    ("klient.amocrm.ru@evil.com", None),
])
def test_only_amocrm_hosts_get_our_secret(referer, expected):
    assert base_url(AMO, referer) == expected


def test_the_emulator_host_only_when_the_settings_name_it():
    dev = Integration(AMO.client_id, AMO.client_secret, AMO.redirect_uri, dev_hosts=("127.0.0.1",))
    assert base_url(dev, "127.0.0.1:5003") == "http://127.0.0.1:5003"
    assert base_url(AMO, "127.0.0.1:5003") is None


def test_the_disconnect_hook_signature():
    good = hmac.new(AMO.client_secret.encode(), f"{AMO.client_id}|12345678".encode(), hashlib.sha256).hexdigest()
    assert hook_signature_ok(AMO, "12345678", AMO.client_id, good)
    assert hook_signature_ok(AMO, "12345678", AMO.client_id, good.upper())
    assert not hook_signature_ok(AMO, "12345679", AMO.client_id, good)
    assert not hook_signature_ok(AMO, "12345678", "other", good)
    assert not hook_signature_ok(AMO, "x", AMO.client_id, good)
    assert not hook_signature_ok(AMO, "12345678", AMO.client_id, good[:-1])


# ---------------------------------------------------------------- the interface


@pytest.mark.parametrize("host", [Bitrix24Host, AmoCRMHost])
def test_both_hosts_answer_the_host_interface(host):
    for name in ("install", "authenticate", "account_of", "deliver"):
        assert callable(getattr(host, name, None)), f"{host.__name__}.{name}"
    params = list(inspect.signature(host.deliver).parameters)
    assert params[:4] == ["self", "account_id", "key", "text"]
    assert list(inspect.signature(host.account_of).parameters) == list(
        inspect.signature(Host.account_of).parameters)
