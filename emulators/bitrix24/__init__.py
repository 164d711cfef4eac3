"""A local Bitrix24: portals, REST, OAuth server and events over real HTTP.

`Emulator` is the entry point (emulator.py); `Faults` injects misbehaviour
(faults.py); `scenario` seeds portals with companies, staff, tasks and
months of time records. Behaviour follows shared/reference/bitrix24-facts.md
and the verbatim payloads in shared/b24-examples/; each module's docstring
names the section or example it follows.

Nothing here imports the Flask app: the emulator is the other side of the
wire.
"""
from .emulator import Emulator
from .faults import Faults
from .state import Portal

__all__ = ["Emulator", "Faults", "Portal"]
