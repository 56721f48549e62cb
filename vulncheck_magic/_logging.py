"""The package logger: ``vulncheck_magic``, silent unless the application configures logging.

Every message passes through redaction before it is logged, so records never hold a token.
"""

from __future__ import annotations

import logging

__all__ = ["logger"]

logger = logging.getLogger("vulncheck_magic")
logger.addHandler(logging.NullHandler())
