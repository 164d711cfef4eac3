"""Addresses of things inside a portal, for links from our pages and reports."""
from __future__ import annotations


def portal_url(domain: str) -> str:
    return f"https://{domain}"


def task_url(domain: str, task_id: int, responsible_id: int | None = None) -> str:
    """A task's card. The portal opens it for any user id in the path that
    may see the task; the responsible user's is the one that always may."""
    return f"{portal_url(domain)}/company/personal/user/{responsible_id or 0}/tasks/task/view/{task_id}/"
