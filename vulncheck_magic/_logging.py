"""The package logger: ``vulncheck_magic``, silent unless the application configures logging.

Every message passes through redaction before it is logged, so records never hold a token.
urllib3 logs each request line with its full URL at DEBUG level. In query auth mode that URL
carries the token, and a backup's pre-signed download URL carries credentials in its query
string. :func:`install_urllib3_redaction` therefore adds a filter to urllib3's loggers that
masks ``token=`` values and pre-signed query strings before any handler receives the record.
"""

from __future__ import annotations

import logging

from ._redact import redact, redact_signed_queries

__all__ = ["install_urllib3_redaction", "logger"]

logger = logging.getLogger("vulncheck_magic")
logger.addHandler(logging.NullHandler())

# The urllib3 loggers whose records can contain a request URL (urllib3 2.x module names).
# NOTE: other libraries that log request URLs are not filtered.
_URLLIB3_LOGGERS = ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager")


class RedactingFilter(logging.Filter):
    """Logging filter that masks ``token=`` values, Bearer tokens and pre-signed query strings.

    The whole query string of a URL with a signing parameter (such as ``X-Amz-Signature``)
    becomes ``***``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        cleaned = redact_signed_queries(redact(message))
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
