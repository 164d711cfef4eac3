"""`python -m emulators.bitrix24 --port 8100`: the emulator on its own, with the demo portal.

Prints the portal's REST base, an admin webhook and the OAuth endpoints,
then serves until Ctrl-C. `--app CLIENT_ID --secret S --handler URL`
registers an app; `--install` then runs its installer against the demo
portal (the app must be listening at URL).
"""
from __future__ import annotations

import argparse
import time

from .emulator import Emulator
from .scenario import demo


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m emulators.bitrix24", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--domain", default="integrator.bitrix24.test")
    ap.add_argument("--no-rate-limit", action="store_true", help="switch the leaky bucket off")
    ap.add_argument("--app", help="client_id of an app to register")
    ap.add_argument("--secret", default="secret")
    ap.add_argument("--handler", default="http://127.0.0.1:5000", help="the app's base URL")
    ap.add_argument("--install", action="store_true", help="run the app's installer on the demo portal")
    args = ap.parse_args(argv)

    emu = Emulator().start(port=args.port, host=args.host)
    portal = demo(emu, domain=args.domain)
    if args.no_rate_limit:
        portal.rate_limit = None
    print(f"Bitrix24 emulator at {emu.url}")
    print(f"  portal        {portal.domain}  member_id={portal.member_id}  ({portal.time_zone})")
    print(f"  REST          {portal.client_endpoint}")
    print(f"  webhook       {portal.webhook(1)}")
    print(f"  OAuth token   {emu.url}/oauth/token/     server REST {emu.url}/rest/")
    for title, cid in portal.companies.items():
        print(f"  company {cid:>4}  {title}  ({portal.kinds.get(title, '')})")
    for uid, name, role in portal.staff:
        print(f"  user    {uid:>4}  {name} — {role}")
    for uid, name, company in portal.client_users:
        print(f"  user    {uid:>4}  {name} — сотрудник клиента {company}")
    print(f"  {len(portal.tasks)} tasks, {len(portal.time)} time records")
    if args.app:
        emu.register_app(args.app, args.secret, args.handler)
        print(f"  app {args.app} → {args.handler}")
        if args.install:
            response = emu.install(portal, args.app)
            print(f"  installer answered {response.status_code}; installed: "
                  f"{portal.installs[args.app].installed}")
    print("Ctrl-C stops.")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
