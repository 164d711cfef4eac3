"""Sealed tokens moved to hosts/secrets.py (amoCRM seals its tokens the
same way); the old import path stays for the code that uses it."""
from hosts.secrets import SecretBox

__all__ = ["SecretBox"]
