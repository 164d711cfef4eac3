"""REST errors: `{"error": ..., "error_description": ...}` with an HTTP code.

Codes, texts and statuses are the documented ones (facts §2.3 and §6,
_includes/system-errors.md, the *.error.*.json examples). The portal's own
classes behave the same way: `AccessException` prefixes "Access denied!"
and answers 403, an argument error is ERROR_ARGUMENT with an `argument`
key, anything else a method throws is 400 (rest/lib/restexception.php).
"""
from __future__ import annotations


class RestError(Exception):
    def __init__(self, code: str, description: str = "", status: int = 400, **extra):
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.status = status
        self.extra = extra

    def body(self) -> dict:
        return {"error": self.code, "error_description": self.description, **self.extra}


def no_auth() -> RestError:
    return RestError("NO_AUTH_FOUND", "Wrong authorization data", 401)


def expired_token() -> RestError:
    return RestError("expired_token", "The access token provided has expired.", 401)


def insufficient_scope() -> RestError:
    # Empty description, as in the only verbatim answer (b24-examples/batch.error-halt0.json).
    return RestError("insufficient_scope", "", 403)


def method_not_found() -> RestError:
    return RestError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404)


def wrong_auth_type() -> RestError:
    # b24-examples/placement.error.WRONG_AUTH_TYPE.json, word for word.
    return RestError("WRONG_AUTH_TYPE",
                     "Current authorization type is denied for this method Application context required", 403)


def access_denied(detail: str = "") -> RestError:
    text = "Access denied!" + (f" {detail}" if detail else "")
    return RestError("ACCESS_DENIED", text, 403)


def argument_null(name: str) -> RestError:
    # b24-examples/placement.bind.error.ERROR_ARGUMENT.json
    return RestError("ERROR_ARGUMENT", f"Argument '{name}' is null or empty", 400, argument=name)


def argument(name: str, description: str) -> RestError:
    return RestError("ERROR_ARGUMENT", description, 400, argument=name)


def core(description: str) -> RestError:
    return RestError("ERROR_CORE", description, 400)


def query_limit() -> RestError:
    return RestError("QUERY_LIMIT_EXCEEDED", "Too many requests", 503)


def operation_time_limit() -> RestError:
    # Text as b24pysdk knows it (facts §6); the docs give only the code and 429.
    return RestError("OPERATION_TIME_LIMIT", "Method is blocked due to operation time limit.", 429)


def internal() -> RestError:
    return RestError("INTERNAL_SERVER_ERROR", "Internal server error", 500)
