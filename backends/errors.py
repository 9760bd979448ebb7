"""Errors a backend raises, independent of any web framework.

    BackendError
     ├── BackendUnavailable        the upstream could not answer (connect, timeout, 5xx, 429, dropped)
     │    └── BackendTimeout       ... because a connect or read deadline passed
     ├── ContextLengthExceeded     the upstream refused the request for its length
     ├── UpstreamRejected          the upstream refused the request itself (a 4xx that is the client's)
     └── UnsupportedOperation      this kind of backend cannot do what was asked

The gateway retries and falls back on ``BackendUnavailable`` and ``ContextLengthExceeded``;
``UpstreamRejected`` goes back to the client as it is.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base class of everything a backend raises."""

    def __init__(self, message: str, *, backend: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend


class BackendUnavailable(BackendError):
    """The upstream did not give an answer; another target may."""

    def __init__(self, message: str, *, backend: str = "", status: int | None = None) -> None:
        super().__init__(message, backend=backend)
        self.status = status


class BackendTimeout(BackendUnavailable):
    """A connect or read deadline passed."""


class ContextLengthExceeded(BackendError):
    """The prompt (plus the requested completion) does not fit the upstream's context window."""


class UpstreamRejected(BackendError):
    """A 4xx from the upstream that describes the client's request; passed on unchanged."""

    def __init__(
        self,
        message: str,
        *,
        backend: str = "",
        status: int = 400,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, backend=backend)
        self.status = status
        self.type = type
        self.param = param
        self.code = code


class UnsupportedOperation(BackendError):
    """The backend's kind cannot serve this endpoint (e.g. embeddings on Claude)."""
