"""Pacing moved to hosts/limits.py (amoCRM paces its requests with the same
buckets); the old import path stays for the code that uses it."""
from hosts.limits import Limiter, LocalBucket, RedisBucket

__all__ = ["Limiter", "LocalBucket", "RedisBucket"]
