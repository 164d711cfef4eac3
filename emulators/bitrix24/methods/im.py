"""im.message.add, im.notify.system.add, im.notify.personal.add (facts §8).

Nothing is shown to anyone: each accepted call is appended to
`Emulator.messages` for tests to read. The im.notify.* docs allow a
webhook or an app token (only session auth is refused), so webhooks are
accepted here (im-notify-system-add.md).
"""
from __future__ import annotations

from ..errors import RestError
from ..rest import Call, method


def _need_message(call: Call) -> str:
    message = str(call.get("MESSAGE") or "").strip()
    if not message and not call.get("ATTACH"):
        # b24-examples/im.message.add.error.MESSAGE_EMPTY.json
        raise RestError("MESSAGE_EMPTY", "Message can't be empty", 400)
    return message


def _record(call: Call, kind: str) -> int:
    mid = call.portal._next(kind)
    call.emu.messages.append({"method": call.method, "id": mid, "domain": call.portal.domain,
                              "user_id": call.user.id, "params": dict(call.params)})
    return mid


@method("im.message.add", scope="im")
def message_add(call: Call) -> int:
    dialog = str(call.get("DIALOG_ID") or "").strip()
    if not dialog:
        raise RestError("DIALOG_ID_EMPTY", "Dialog ID can't be empty", 400)
    _need_message(call)
    if dialog.isdigit() and int(dialog) not in call.portal.users:
        raise RestError("USER_NOT_FOUND", "User not found", 400)
    return _record(call, "message")


def _notify(call: Call) -> int:
    try:
        user_id = int(str(call.get("USER_ID") or 0))
    except ValueError:
        user_id = 0
    if user_id <= 0:
        raise RestError("USER_ID_EMPTY", "User ID can't be empty", 400)
    _need_message(call)
    return _record(call, "notify")


@method("im.notify.system.add", scope="im")
def notify_system(call: Call) -> int:
    return _notify(call)


@method("im.notify.personal.add", scope="im")
def notify_personal(call: Call) -> int:
    return _notify(call)
