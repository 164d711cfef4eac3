"""The REST methods the emulator serves; importing this registers them all."""
from . import crm, elapsed, events, im, placement, system, tasks, users  # noqa: F401
