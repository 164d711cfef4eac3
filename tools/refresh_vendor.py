#!/usr/bin/env python3
"""Refresh the vendored front-end assets from the npm registry.

    python3 tools/refresh_vendor.py            # the pinned versions below
    python3 tools/refresh_vendor.py --print    # sizes only, for static/vendor/README.md

Needs `npm` and `node` (node to build the slim b24jssdk and to turn the
b24icons Vue render functions into SVG). Nothing is loaded from a CDN at run
time: everything lands in static/vendor/ and templates/icons/ and is
committed. This script lives outside static/ because Flask serves that folder.

* @bitrix24/b24jssdk   the frame part, built by tools/vendor-b24jssdk (`npm ci && node build.mjs`;
                       versions pinned in its package.json / package-lock.json)
                       -> static/vendor/b24jssdk/b24jssdk.frame.min.js (+ LICENSE)
* @bitrix24/b24ui-nuxt dist/runtime/air-design-tokens/{001_b24_global,003_b24_context_light,
                       007_b24_global}.css -> the light-theme variables a page needs, and what
                       they refer to, as one :root block in static/vendor/b24ui/tokens.css
* @bitrix24/b24icons-vue dist/outline/esm/<Name>Icon.js -> templates/icons/<name>.svg
  (the registry has no plain `@bitrix24/b24icons` package; the Vue package
  carries the same outline set as render functions)
"""
from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "static" / "vendor"
ICONS = ROOT / "templates" / "icons"
JSSDK_BUILD = ROOT / "tools" / "vendor-b24jssdk"

UI = "@bitrix24/b24ui-nuxt@2.13.0"
ICON_PKG = "@bitrix24/b24icons-vue@2.0.8"

TOKEN_FILES = ["001_b24_global.css", "003_b24_context_light.css", "007_b24_global.css"]
# The variables a page uses directly; whatever they refer to through var() comes along.
TOKEN_KEEP = [
    r"--ui-font-family-(system|system-mono|primary|secondary)",
    r"--ui-font-size-(3xs|xs|sm|md|lg|xl|2xl|3xl|4xl|5xl)",
    r"--ui-font-weight-(light|regular|normal|medium|semi-bold|bold)",
    r"--ui-font-line-height-.*",
    r"--ui-typography-(text|heading)-.*",
    r"--ui-border-radius-.*",
    r"--ui-border-width-.*",
    r"--ui-space-(inset|stack|inline)-(?!.*neg).*",
    r"--ui-shadow-bottom-.*",
    r"--ui-color-base-.*",
    r"--ui-color-accent-main-.*",
    r"--ui-color-accent-soft-(blue|green|orange|red|grey)-.*",
    r"--ui-color-accent-soft-element-.*",
    r"--ui-color-bg-content-(primary|secondary|tertiary)",
    r"--ui-color-bg-state-(hover|click)-default",
    r"--ui-color-divider-(accent|default|less)",
    r"--ui-color-link-primary-base",
    r"--ui-color-design-(filled|filled-success|filled-alert|filled-warning|tinted|tinted-success|tinted-alert"
    r"|tinted-warning|outline|plain|plain-na|selection)-(bg|stroke|content|content-secondary|content-icon)",
    r"--air-theme-bg-color",
    r"--ui-(btn|field|alert)-border-radius",
]

# our name -> outline icon of b24icons
ICON_MAP = {
    "clock": "Clock", "fire": "Fire", "warning": "AlertAccent", "check": "CircleCheck", "task": "Task",
    "chart": "GraphsDiagram", "user": "Person", "external": "GoToM", "link": "Link", "calendar": "Calendar",
    "settings": "Settings", "plus": "PlusM", "trash": "Trashcan", "refresh": "Refresh",
}

# Evaluates one compiled Vue render function with stand-ins that print SVG.
NODE_SVG = r"""
const fs = require('fs');
const src = fs.readFileSync(process.argv[1], 'utf8').replace(/^import[^\n]*\n/m, '')
  .replace('export default function render', 'function render');
const esc = v => String(v).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
const el = (tag, attrs, children) => {
  attrs = { ...(attrs || {}) };
  for (const k of ['width', 'height', 'data-slot']) delete attrs[k];
  const a = Object.entries(attrs).map(([k, v]) => ` ${k}="${esc(v)}"`).join('');
  const kids = Array.isArray(children) ? children.join('') : '';
  return kids ? `<${tag}${a}>${kids}</${tag}>` : `<${tag}${a}/>`;
};
const fn = new Function('_createElementVNode', '_openBlock', '_createElementBlock', '_createStaticVNode',
  src + '\nreturn render({}, []);');
process.stdout.write(fn(el, () => {}, el, s => s));
"""


def pack(spec: str, into: Path) -> Path:
    out = subprocess.run(["npm", "pack", "--silent", spec], cwd=into, check=True, capture_output=True, text=True)
    tgz = into / out.stdout.strip().splitlines()[-1]
    dest = into / tgz.stem
    with tarfile.open(tgz) as tar:
        tar.extractall(dest, filter="data")
    return dest / "package"


def var_decls(css: str) -> dict[str, str]:
    """The custom properties of the light theme's :root rules, in order."""
    found: dict[str, str] = {}
    for selector, body in re.findall(r"([^{};]+)\{([^{}]*)\}", css):
        names = [s.strip() for s in selector.split(",")]
        if ":root" not in names:
            continue
        for name, value in re.findall(r"(--[\w-]+):([^;]*)", body):
            found[name] = value.strip()
    return found


def tokens(pkg: Path, version: str) -> str:
    base = pkg / "dist" / "runtime" / "air-design-tokens"
    decls: dict[str, str] = {}
    for name in TOKEN_FILES:
        decls.update(var_decls((base / name).read_text()))
    keep = re.compile("|".join(f"(?:{p})" for p in TOKEN_KEEP))
    wanted = {n for n in decls if keep.fullmatch(n)}
    todo = list(wanted)
    while todo:
        for ref in re.findall(r"var\((--[\w-]+)", decls.get(todo.pop(), "")):
            if ref in decls and ref not in wanted:
                wanted.add(ref)
                todo.append(ref)
    lines = [f"  {n}: {v};" for n, v in decls.items() if n in wanted]
    header = (f"/* Bitrix24 \"air\" design tokens, light theme: plain CSS custom properties.\n"
              f" * From @bitrix24/b24ui-nuxt {version} (MIT, see LICENSE here),\n"
              f" * dist/runtime/air-design-tokens/{{{','.join(TOKEN_FILES)}}}:\n"
              f" * the variables tools/refresh_vendor.py keeps, and those they refer to.\n"
              f" * Generated: edit tools/refresh_vendor.py, not this file. */\n")
    return header + ":root {\n" + "\n".join(lines) + "\n}\n"


def icon_svg(js: Path, name: str) -> str:
    svg = subprocess.run(["node", "-e", NODE_SVG, str(js)], check=True, capture_output=True, text=True).stdout
    assert svg.startswith("<svg ") and "viewBox=" in svg, js
    return svg.replace("<svg ", f'<svg class="icon icon-{name}" ', 1) + "\n"


def sizes(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    return len(data), len(gzip.compress(data, 9))


def report() -> None:
    files = [VENDOR / "b24jssdk" / "b24jssdk.frame.min.js", VENDOR / "b24ui" / "tokens.css",
             *sorted(ICONS.glob("*.svg"))]
    for f in files:
        raw, gz = sizes(f)
        print(f"{f.relative_to(ROOT)}\t{raw}\t{gz}")


def main() -> None:
    if "--print" in sys.argv:
        return report()
    # b24jssdk: esbuild from the package's ESM, heavy parts shimmed (tools/vendor-b24jssdk/README.md).
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=JSSDK_BUILD, check=True)
    subprocess.run(["node", "build.mjs"], cwd=JSSDK_BUILD, check=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ui = pack(UI, tmp)
        (VENDOR / "b24ui").mkdir(parents=True, exist_ok=True)
        (VENDOR / "b24ui" / "tokens.css").write_text(tokens(ui, UI.rsplit("@", 1)[1]))
        shutil.copy(ui / "LICENSE", VENDOR / "b24ui" / "LICENSE")

        icons = pack(ICON_PKG, tmp)
        ICONS.mkdir(parents=True, exist_ok=True)
        for ours, theirs in ICON_MAP.items():
            js = icons / "dist" / "outline" / "esm" / f"{theirs}Icon.js"
            (ICONS / f"{ours}.svg").write_text(icon_svg(js, ours))
        shutil.copy(icons / "LICENSE", ICONS / "LICENSE")
    report()


if __name__ == "__main__":
    main()
