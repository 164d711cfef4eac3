"""A local amoCRM: accounts (each on its own port, as each has its own
host), the consent page, OAuth with rotating refresh tokens, the API v4
methods Hourbook uses with their documented shapes and errors, the limit of
7 requests a second (429, then a block), and company and lead cards that
run an uploaded widget archive with disposable tokens. Behaviour follows
amocrm/FACTS.md; each module's docstring names the sections.

Nothing here imports the Flask app: the emulator is the other side of the wire.
"""
from .emulator import AmoEmulator
from .state import Account

__all__ = ["AmoEmulator", "Account"]
