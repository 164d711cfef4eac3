"""The pages' world (tests/pages.py: an integrator's Bitrix24 portal and a
client's portal, Hourbook installed and synced) plus a local amoCRM with
two accounts, both connected through the manager's link as an admin would:

    "klient"  amoCRM account of «Ромашка» (an account of the integrator's
              portal), its company card «Интегратор» chosen
    "drugoy"  another amoCRM account, connected to portal B's client

The widget archive is built by the project's own builder and uploaded to
the emulated integration; the emulated cards run it.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from amocrm import widget as builder
from emulators.amocrm import AmoEmulator
from tests.pages import World, build_world

AMO_CLIENT_ID = "5a0c1f2e-7b3d-4c8e-9f10-112233445566"
AMO_SECRET = "amo-integration-secret-key-0123456789"


@dataclass
class AmoWorld:
    w: World
    amo: AmoEmulator
    a: Any  # amoCRM account "klient"
    b: Any  # amoCRM account "drugoy"
    users: dict[str, int]  # a_admin, a_user (en), b_admin
    companies: dict[str, int]  # a_home (the chosen card), a_other, b_home
    leads: dict[str, int]  # a_home, a_other, a_none
    connections: dict[str, int]  # a, b

    @property
    def url(self) -> str:
        return self.w.url

    def token(self, account: Any = None, user: int | None = None, key: str = AMO_SECRET, **changes: Any) -> str:
        """A disposable token as amoCRM issues it to the widget; `changes`
        replace claims (None drops one) and `key` signs it (a forgery)."""
        import jwt

        account = account or self.a
        raw = self.amo.state.disposable(account, AMO_CLIENT_ID, user or next(iter(account.users)))
        if not changes and key == AMO_SECRET:
            return raw
        body = jwt.decode(raw, options={"verify_signature": False})
        for name, value in changes.items():
            if value is None:
                body.pop(name, None)
            else:
                body[name] = value
        return jwt.encode(body, key, algorithm="HS256")

    def call(self, token: str | None, entity: str = "companies", entity_id: int | None = None, lang: str = "ru",
             origin: str | None = None) -> requests.Response:
        headers = {"Origin": origin or self.a.url}
        if token is not None:
            headers["X-Auth-Token"] = token
        data = {"entity": entity, "id": str(entity_id if entity_id is not None else self.companies["a_home"]),
                "lang": lang}
        return requests.post(self.url + "/amocrm/widget", data=data, headers=headers, timeout=30)


def config_for(amo: AmoEmulator) -> dict[str, Any]:
    return {"AMOCRM_CLIENT_ID": AMO_CLIENT_ID, "AMOCRM_CLIENT_SECRET": AMO_SECRET,
            "AMOCRM_CONSENT_URL": amo.consent_url, "AMOCRM_DEV_HOSTS": "127.0.0.1"}


def connect_link(app: Any, account_id: int) -> str:
    from handlers.amocrm import panel

    with app.test_request_context("/"):
        return panel(account_id).connect_url


def connect(amo: AmoEmulator, app: Any, account: Any, hb_account_id: int, company_id: int | None) -> requests.Response:
    """The admin opens the manager's link, allows access in amoCRM, and
    chooses the company card: the last answer."""
    page = requests.get(connect_link(app, hb_account_id), timeout=30)
    assert page.status_code == 200, page.text[:300]
    consent = re.search(r'href="([^"]+)" data-hb-consent', page.text).group(1).replace("&amp;", "&")
    state = parse_qs(urlsplit(consent).query)["state"][0]
    back = amo.authorize(account, AMO_CLIENT_ID, state)
    answer = requests.get(back, timeout=30, allow_redirects=False)
    if answer.status_code != 303 or company_id is None:
        return answer
    picker = requests.get(app.config["PUBLIC_URL"] + answer.headers["Location"], timeout=30)
    assert picker.status_code == 200, picker.text[:300]
    token = re.search(r'name="t" value="([^"]+)"', picker.text).group(1)
    return requests.post(app.config["PUBLIC_URL"] + "/amocrm/company", data={"t": token, "company_id": company_id},
                         timeout=30)


@contextmanager
def build_amo_world(kind: str, tmp: Path) -> Iterator[AmoWorld]:
    from hosts.amocrm import lead_companies

    lead_companies.clear()  # ids repeat from one world to the next
    amo = AmoEmulator().start()
    try:
        a = amo.add_account("klient", "ООО «Ромашка»")
        b = amo.add_account("drugoy", "ООО «Клиент»")
        users = {"a_admin": amo.state.add_user(a, "Ирина Петрова", "ru", admin=True),
                 "a_user": amo.state.add_user(a, "John Smith", "en"),
                 "b_admin": amo.state.add_user(b, "Олег Другов", "ru", admin=True)}
        companies = {"a_home": amo.state.add_company(a, "Интегратор «Часы и люди»"),
                     "a_other": amo.state.add_company(a, "ООО «Покупатель»"),
                     "b_home": amo.state.add_company(b, "Наш интегратор")}
        for n in range(300):  # more than a page of 250: the picker and the list page through them
            amo.state.add_company(a, f"Клиент продаж №{n + 1}")
        leads = {"a_home": amo.state.add_lead(a, "Продление сопровождения", companies["a_home"], 120000),
                 "a_other": amo.state.add_lead(a, "Сделка покупателя", companies["a_other"], 5000),
                 "a_none": amo.state.add_lead(a, "Сделка без компании", None)}
        with build_world(kind, tmp, config_for(amo)) as w:
            amo.register_integration(AMO_CLIENT_ID, AMO_SECRET, w.url + "/amocrm/oauth",
                                     disconnect_hook=w.url + "/amocrm/hook")
            amo.upload_widget(AMO_CLIENT_ID, builder.archive(builder.files(w.url)))
            for account, hb, company in ((a, w.accounts["romashka"], companies["a_home"]),
                                         (b, w.accounts["client"], companies["b_home"])):
                done = connect(amo, w.app, account, hb, company)
                assert done.status_code == 200, done.text[:500]
            from amocrm.models import AmoConnection
            from sqlalchemy import select

            with w.session() as s:
                ids = dict(s.execute(select(AmoConnection.subdomain, AmoConnection.id)).all())
            yield AmoWorld(w, amo, a, b, users, companies, leads, {"a": ids["klient"], "b": ids["drugoy"]})
    finally:
        amo.stop()


def amo_world_fixture(*databases: str):
    @pytest.fixture(scope="module", params=databases)
    def amo_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AmoWorld]:
        with build_amo_world(request.param, tmp_path_factory.mktemp(f"amo-{request.param}")) as world:
            yield world

    return amo_world
