"""The package logger: ``vulncheck_magic``, silent unless the application configures logging.

Every message passes through redaction before it is logged, so records never hold a token.
urllib3 logs each request line with its full URL at DEBUG level. In query auth mode that URL
carries the token, so :func:`install_urllib3_redaction` adds a filter to urllib3's loggers
that masks ``token=`` values before any handler sees the record.
"""

from __future__ import annotations

import logging

from ._redact import redact

__all__ = ["install_urllib3_redaction", "logger"]

logger = logging.getLogger("vulncheck_magic")
logger.addHandler(logging.NullHandler())

# The urllib3 loggers whose records can contain a request URL (urllib3 2.x module names).
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


class RedactingFilter(logging.Filter):
    """Logging filter that masks ``token=`` values and Bearer tokens in a record's message."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


_filter = RedactingFilter()


def install_urllib3_redaction() -> None:
    """Add the redacting filter to urllib3's loggers; calling it again adds nothing."""
    for name in _URLLIB3_LOGGERS:
        third_party = logging.getLogger(name)
        if _filter not in third_party.filters:
            third_party.addFilter(_filter)
