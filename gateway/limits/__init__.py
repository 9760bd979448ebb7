"""Admission control: requests per minute, tokens per second, concurrency and daily token quotas.

One process uses ``InMemoryLimiter``; replicas share ``RedisLimiter`` (atomic Lua scripts), with
a configured behaviour when Redis is unreachable (``ResilientLimiter``).
"""

from gateway.limits.limiter import Admission, Limiter, Subject, subjects_for

__all__ = ["Admission", "Limiter", "Subject", "subjects_for"]
