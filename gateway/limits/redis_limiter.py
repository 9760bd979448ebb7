"""The shared limiter: every replica runs the same atomic Lua scripts against one Redis.

All of a request's subjects are checked and counted in one script, so N replicas enforce one
limit exactly. Time comes from Redis (``TIME``), so replicas with skewed clocks agree.
Keys (per subject ``S``, under the configured prefix ``P``): ``P:{S}:log`` (admission log),
``P:{S}:bucket`` (token bucket), ``P:{S}:day:<n>`` (daily tokens), ``P:{S}:inflight`` (leases),
``P:{S}:month:<n>`` (the month's spent and reserved cost).
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from gateway.limits.limiter import (
    BUCKET_SECONDS,
    WINDOW_SECONDS,
    Admission,
    Headroom,
    Limiter,
    Subject,
    day_number,
    month_number,
    refusal,
    seconds_to_next_day,
    seconds_to_next_month,
)

_HEADROOM = """
local function headroom(n, now, base)
  local lim_req, rem_req, reset_req, lim_tok, rem_tok, reset_tok = -1, -1, 0, -1, -1, 0
  for i = 1, n do
    local k = (i - 1) * 5
    local a = base + (i - 1) * 5
    local rpm, tps = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
    if rpm >= 0 then
      local used = redis.call('ZCOUNT', KEYS[k + 1], now - WINDOW, '+inf')
      if rem_req < 0 or rpm - used < rem_req then
        lim_req, rem_req = rpm, rpm - used
        local oldest = redis.call('ZRANGEBYSCORE', KEYS[k + 1], now - WINDOW, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
        reset_req = 0
        if oldest[2] then reset_req = (tonumber(oldest[2]) + WINDOW - now) * 1000 end
      end
    end
    if tps >= 0 then
      local cap = tps * BUCKET
      local level = tonumber(redis.call('HGET', KEYS[k + 2], 'level') or cap)
      if rem_tok < 0 or level < rem_tok then
        lim_tok, rem_tok = cap, math.floor(level)
        reset_tok = 0
        if tps > 0 then reset_tok = math.max(0, (cap - level) / tps * 1000) end
      end
    end
  end
  return {lim_req, rem_req, math.floor(reset_req), lim_tok, rem_tok, math.floor(reset_tok)}
end
"""

ADMIT = (
    """
local WINDOW, BUCKET = tonumber(ARGV[1]), tonumber(ARGV[2])
"""
    + _HEADROOM
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local request_id, tokens, lease = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local n, cost = tonumber(ARGV[6]), tonumber(ARGV[7])
local base = 7
for i = 1, n do
  local k = (i - 1) * 5
  local a = base + (i - 1) * 5
  local rpm, tps, daily, conc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  local budget = tonumber(ARGV[a + 5])
  if budget >= 0 then
    local spent = tonumber(redis.call('GET', KEYS[k + 5]) or 0)
    if spent >= budget then
      local h = headroom(n, now, base)
      return {0, 'budget', ARGV[a + 5], -2, unpack(h)}
    end
  end
  if rpm >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 1], '-inf', now - WINDOW)
    if redis.call('ZCARD', KEYS[k + 1]) >= rpm then
      local oldest = redis.call('ZRANGE', KEYS[k + 1], 0, 0, 'WITHSCORES')
      local wait = WINDOW
      if oldest[2] then wait = tonumber(oldest[2]) + WINDOW - now end
      local h = headroom(n, now, base)
      return {0, 'requests', rpm, math.floor(wait * 1000), unpack(h)}
    end
  end
  if conc >= 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[k + 4], '-inf', now)
    if redis.call('ZCARD', KEYS[k + 4]) >= conc then
      local h = headroom(n, now, base)
      return {0, 'concurrency', conc, 1000, unpack(h)}
    end
  end
  if tps >= 0 then
    local cap = tps * BUCKET
    local state = redis.call('HMGET', KEYS[k + 2], 'level', 'at')
    local level = tonumber(state[1] or cap)
    local at = tonumber(state[2] or now)
    level = math.min(cap, level + (now - at) * tps)
    redis.call('HSET', KEYS[k + 2], 'level', tostring(level), 'at', tostring(now))
    local needed = math.min(tokens, cap)
    if level < needed then
      local h = headroom(n, now, base)
      local wait = 1
      if tps > 0 then wait = (needed - level) / tps end
      return {0, 'tokens', cap, math.floor(wait * 1000), unpack(h)}
    end
  end
  if daily >= 0 then
    local used = tonumber(redis.call('GET', KEYS[k + 3]) or 0)
    if used + tokens > daily then
      local h = headroom(n, now, base)
      return {0, 'daily_tokens', daily, -1, unpack(h)}
    end
  end
end
for i = 1, n do
  local k = (i - 1) * 5
  local a = base + (i - 1) * 5
  local rpm, tps, daily, conc = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  if tonumber(ARGV[a + 5]) >= 0 then
    redis.call('INCRBYFLOAT', KEYS[k + 5], cost)
    redis.call('EXPIRE', KEYS[k + 5], 3456000)
  end
  if rpm >= 0 then
    redis.call('ZADD', KEYS[k + 1], now, request_id)
    redis.call('PEXPIRE', KEYS[k + 1], math.floor(WINDOW * 1000) + 1000)
  end
  if conc >= 0 then
    redis.call('ZADD', KEYS[k + 4], now + lease, request_id)
    redis.call('PEXPIRE', KEYS[k + 4], math.floor(lease * 1000) + 1000)
  end
  if tps >= 0 then
    local level = tonumber(redis.call('HGET', KEYS[k + 2], 'level'))
    redis.call('HSET', KEYS[k + 2], 'level', tostring(level - tokens))
    redis.call('PEXPIRE', KEYS[k + 2], math.floor(BUCKET * 2000) + 1000)
  end
  if daily >= 0 then
    redis.call('INCRBY', KEYS[k + 3], tokens)
    redis.call('EXPIRE', KEYS[k + 3], 172800)
  end
end
local h = headroom(n, now, base)
return {1, '', 0, 0, unpack(h)}
"""
)

SETTLE = """
local request_id, difference, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local cost_difference = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
for i = 1, n do
  local k = (i - 1) * 4
  local a = 4 + (i - 1) * 3
  local tps, daily, budget = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  redis.call('ZREM', KEYS[k + 3], request_id)
  if budget >= 0 and cost_difference ~= 0 and redis.call('EXISTS', KEYS[k + 4]) == 1 then
    local spent = tonumber(redis.call('INCRBYFLOAT', KEYS[k + 4], cost_difference))
    if spent < 0 then redis.call('SET', KEYS[k + 4], 0, 'KEEPTTL') end
  end
  if tps >= 0 and redis.call('EXISTS', KEYS[k + 1]) == 1 then
    local cap = tps * tonumber(ARGV[#ARGV])
    local state = redis.call('HMGET', KEYS[k + 1], 'level', 'at')
    local level = math.min(cap, tonumber(state[1]) + (now - tonumber(state[2])) * tps)
    redis.call('HSET', KEYS[k + 1], 'level', tostring(math.min(cap, level - difference)), 'at', tostring(now))
  end
  if daily >= 0 and redis.call('EXISTS', KEYS[k + 2]) == 1 then
    local used = redis.call('INCRBY', KEYS[k + 2], difference)
    if used < 0 then redis.call('SET', KEYS[k + 2], 0, 'KEEPTTL') end
  end
end
return 1
"""


SEED = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', 3456000) then return 1 end
return 0
"""


def _limit(value: float | None) -> float:
    return -1 if value is None else value


def _headroom(values: list) -> Headroom:
    lim_req, rem_req, reset_req, lim_tok, rem_tok, reset_tok = (int(v) for v in values)
    headroom = Headroom()
    if lim_req >= 0:
        headroom.limit_requests, headroom.remaining_requests, headroom.reset_requests = (
            lim_req,
            rem_req,
            reset_req / 1000,
        )
    if lim_tok >= 0:
        headroom.limit_tokens, headroom.remaining_tokens, headroom.reset_tokens = lim_tok, rem_tok, reset_tok / 1000
    return headroom


class RedisLimiter(Limiter):
    """Limits shared by every replica through one Redis."""

    def __init__(
        self,
        url: str,
        reset_hour_utc: int = 0,
        lease_seconds: float = 600.0,
        timeout: float = 2.0,
        max_connections: int = 64,
        pool_timeout: float = 2.0,
        key_prefix: str = "gw",
    ) -> None:
        self.key_prefix = key_prefix
        self.reset_hour_utc = reset_hour_utc
        self.lease_seconds = lease_seconds
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=pool_timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            health_check_interval=30,
        )
        self.redis = aioredis.Redis(connection_pool=pool)
        self._admit = self.redis.register_script(ADMIT)
        self._settle = self.redis.register_script(SETTLE)
        self._seed = self.redis.register_script(SEED)

    def _month_key(self, scope: str, month: int) -> str:
        return f"{self.key_prefix}:{{{scope}}}:month:{month}"

    async def admit(
        self, request_id: str, subjects: tuple[Subject, ...], tokens: int, cost: float = 0.0
    ) -> Admission:
        now = time.time()
        day, month = day_number(now, self.reset_hour_utc), month_number(now)
        keys: list[str] = []
        args: list = [WINDOW_SECONDS, BUCKET_SECONDS, request_id, tokens, self.lease_seconds, len(subjects), repr(cost)]
        for subject in subjects:
            prefix = f"{self.key_prefix}:{{{subject.scope}}}"
            keys += [
                f"{prefix}:log",
                f"{prefix}:bucket",
                f"{prefix}:day:{day}",
                f"{prefix}:inflight",
                self._month_key(subject.scope, month),
            ]
            args += [
                _limit(subject.rpm),
                _limit(subject.tps),
                _limit(subject.daily_tokens),
                _limit(subject.max_concurrency),
                repr(float(_limit(subject.monthly_budget))),
            ]
        result = await self._admit(keys=keys, args=args)
        admitted, reason, wait_ms = int(result[0]), result[1], int(result[3])
        headroom = _headroom(result[4:10])
        if not admitted:
            reason = reason.decode() if isinstance(reason, bytes) else reason
            limit = float(result[2])
            if wait_ms == -2:
                wait = seconds_to_next_month(now)
            else:
                wait = seconds_to_next_day(now, self.reset_hour_utc) if wait_ms < 0 else wait_ms / 1000
            raise refusal(reason, limit if reason == "budget" else int(limit), wait, headroom)
        return Admission(request_id, subjects, tokens, day, headroom, self, reserved_cost=cost, month=month)

    async def seed_month(self, scope: str, month: int, spent: float) -> None:
        await self._seed(keys=[self._month_key(scope, month)], args=[repr(float(spent))])

    async def settle(self, admission: Admission, used_tokens: int, used_cost: float | None = None) -> None:
        if admission.settled:
            return
        admission.settled = True
        cost_difference = 0.0 if used_cost is None else used_cost - admission.reserved_cost
        keys: list[str] = []
        args: list = [
            admission.request_id,
            used_tokens - admission.reserved_tokens,
            len(admission.subjects),
            repr(cost_difference),
        ]
        for subject in admission.subjects:
            prefix = f"{self.key_prefix}:{{{subject.scope}}}"
            keys += [
                f"{prefix}:bucket",
                f"{prefix}:day:{admission.day}",
                f"{prefix}:inflight",
                self._month_key(subject.scope, admission.month),
            ]
            args += [_limit(subject.tps), _limit(subject.daily_tokens), repr(float(_limit(subject.monthly_budget)))]
        args.append(BUCKET_SECONDS)
        await self._settle(keys=keys, args=args)

    async def aclose(self) -> None:
        await self.redis.aclose()
