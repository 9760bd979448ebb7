"""Model backends behind one small interface (see ``backends.base``)."""

from backends.base import Backend, Timeouts
from backends.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ContextLengthExceeded,
    UnsupportedOperation,
    UpstreamRejected,
)

__all__ = [
    "Backend",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "ContextLengthExceeded",
    "Timeouts",
    "UnsupportedOperation",
    "UpstreamRejected",
]
