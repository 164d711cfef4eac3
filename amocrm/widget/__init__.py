"""The widget archive Hourbook builds for amoCRM (§4.1):

    manifest.json   names as i18n keys, ru and en, interface_version 2,
                    locations: the company and lead cards' right column
    script.js       the AMD module (script.js beside this file, with our address)
    i18n/ru.json, i18n/en.json   the same keys in both languages
    images/         the logos amoCRM asks for, in their sizes
    widget.zip      all of the above at the archive's root, UTF-8 without BOM,
                    what the integration's form uploads

Deterministic: the same address and version give the same bytes.
"""
from __future__ import annotations

import json
import struct
import zipfile
import zlib
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
VERSION = "1.0.0"
LOCATIONS = ["comcard-1", "lcard-1"]  # company card, lead card; "-1": in the right-hand column (§4.1)

# (file, width, height): §4.1's list; logo_min and logo_medium for card widgets.
IMAGES = [("logo_main.png", 400, 272), ("logo_small.png", 108, 108), ("logo.png", 130, 100),
          ("logo_medium.png", 240, 84), ("logo_min.png", 84, 84), ("logo_dp.png", 174, 109)]

I18N = {
    "ru": {
        "widget": {"name": "Hourbook: часы сопровождения",
                   "short_description": "Остаток часов пакета в карточке компании",
                   "description": "Показывает в карточке компании и сделки остаток часов сопровождения, дату "
                                  "сгорания, задачи, план развития и этапы из Hourbook. Время учитывается в "
                                  "Bitrix24 интегратора."},
        "userLang": {"loading": "Загружаем часы…",
                     "not_linked": "Эта карточка не связана с Hourbook.",
                     "refused": "Hourbook не узнал этот аккаунт amoCRM. Попросите менеджера подключить его снова.",
                     "unavailable": "Hourbook сейчас не отвечает. Попробуйте через минуту."},
    },
    "en": {
        "widget": {"name": "Hourbook: retainer hours",
                   "short_description": "Hours left in the package, in the company card",
                   "description": "Shows the retainer's hours left, the burn date, tasks, the development plan "
                                  "and stages from Hourbook in company and lead cards. Time is tracked in the "
                                  "integrator's Bitrix24."},
        "userLang": {"loading": "Loading hours…",
                     "not_linked": "This card is not linked to Hourbook.",
                     "refused": "Hourbook did not recognise this amoCRM account. Ask your manager to connect it again.",
                     "unavailable": "Hourbook is not answering now. Try again in a minute."},
    },
}


def manifest(support_url: str, version: str = VERSION) -> dict:
    return {
        "widget": {"name": "widget.name", "description": "widget.description",
                   "short_description": "widget.short_description", "version": version, "interface_version": 2,
                   "init_once": False, "locale": ["ru", "en"], "installation": False, "is_showcase": False,
                   "support": {"link": support_url}},
        "locations": LOCATIONS,
        # Required by the moderation rules even with nothing to set (FACTS.md §4.3).
        "settings": {},
        "tour": {"is_tour": False, "tour_images": {"ru": [], "en": []}, "tour_description": "widget.description"},
    }


def script(hourbook_url: str) -> str:
    url = hourbook_url.rstrip("/")
    if not url.startswith(("http://", "https://")) or any(c in url for c in "\"'\\<> \n"):
        raise ValueError(f"not an address: {hourbook_url!r}")
    return (HERE / "script.js").read_text(encoding="utf-8").replace("__HOURBOOK_URL__", url)


def files(hourbook_url: str, version: str = VERSION) -> dict[str, bytes]:
    out = {"manifest.json": _json(manifest(hourbook_url.rstrip("/") + "/", version)),
           "script.js": script(hourbook_url).encode("utf-8")}
    for lang, texts in I18N.items():
        out[f"i18n/{lang}.json"] = _json(texts)
    for name, width, height in IMAGES:
        out[f"images/{name}"] = logo_png(width, height)
    return out


def archive(contents: dict[str, bytes]) -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name in sorted(contents):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, contents[name])
    return buffer.getvalue()


def build(out: Path, hourbook_url: str, version: str = VERSION) -> Path:
    """Write the files and widget.zip into `out`; the archive's path."""
    contents = files(hourbook_url, version)
    for name, data in contents.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    zipped = out / "widget.zip"
    zipped.write_bytes(archive(contents))
    return zipped


def _json(value: dict) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def logo_png(width: int, height: int) -> bytes:
    """Hourbook's mark, drawn here (no image library at run time): a white
    clock face on the brand blue, hands at ten past ten."""
    cx, cy, r = width / 2, height / 2, min(width, height) * 0.34
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            dx, dy = x + 0.5 - cx, y + 0.5 - cy
            d2 = dx * dx + dy * dy
            color = (47, 198, 246)  # Bitrix24-like blue, the widget's accent
            if d2 <= r * r:
                color = (255, 255, 255)
                on_minute = abs(dx) <= r * 0.06 and -r * 0.8 <= dy <= 0  # to 12
                on_hour = abs(dy) <= r * 0.07 and 0 <= dx <= r * 0.55  # to 3
                if on_minute or on_hour or d2 <= (r * 0.1) ** 2:
                    color = (38, 50, 66)
            row += bytes(color)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")
