"""HTTP/S delivery policies: their validation, the effective policy of a subscription, and the delay
before each retry (pure functions; the control plane schedules with `retry_delay`).

A retry policy has four phases, as on AWS: immediate retries, retries `minDelayTarget` apart, a
backoff from `minDelayTarget` to `maxDelayTarget` shaped by `backoffFunction`, then retries
`maxDelayTarget` apart. AWS draws its four backoff curves without formulas; Kura's are: linear,
arithmetic (quadratic growth), geometric (cubic growth) and exponential (geometric interpolation).
"""

from __future__ import annotations

import json
from typing import Any

from kura.services.sns import errors
from kura.services.sns.records import DEFAULT_DELIVERY_POLICY, DEFAULT_HEALTHY_RETRY

MAX_POLICY_SECONDS = 3600  # AWS's hard limit on the total retry time of an HTTP/S policy
BACKOFF = ("linear", "arithmetic", "geometric", "exponential")
_RETRY_KEYS = {"minDelayTarget", "maxDelayTarget", "numRetries", "numNoDelayRetries", "numMinDelayRetries",
               "numMaxDelayRetries", "backoffFunction"}

# SMTP's policy, which AWS does not let anyone change: 2 retries 10 s apart, 10 backing off to 10
# minutes, then every 10 minutes: 50 attempts over some 6 hours.
EMAIL_RETRY: dict[str, Any] = {
    "minDelayTarget": 10, "maxDelayTarget": 600, "numRetries": 49, "numNoDelayRetries": 0,
    "numMinDelayRetries": 2, "numMaxDelayRetries": 37, "backoffFunction": "exponential"}


def _int(policy: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = policy.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise errors.invalid(f"DeliveryPolicy: {key} must be an integer between {low} and {high}")
    return value


def retry_policy(raw: Any) -> dict[str, Any]:
    """A healthy retry policy, checked and completed with AWS's defaults."""
    if not isinstance(raw, dict):
        raise errors.invalid("DeliveryPolicy: healthyRetryPolicy must be an object")
    unknown = set(raw) - _RETRY_KEYS
    if unknown:
        raise errors.invalid(f"DeliveryPolicy: unknown field {sorted(unknown)[0]}")
    low = _int(raw, "minDelayTarget", DEFAULT_HEALTHY_RETRY["minDelayTarget"], 1, MAX_POLICY_SECONDS)
    high = _int(raw, "maxDelayTarget", max(low, DEFAULT_HEALTHY_RETRY["maxDelayTarget"]), low,
                MAX_POLICY_SECONDS)
    out: dict[str, Any] = {"minDelayTarget": low, "maxDelayTarget": high,
           "numRetries": _int(raw, "numRetries", 3, 0, 100),
           "numNoDelayRetries": _int(raw, "numNoDelayRetries", 0, 0, 100),
           "numMinDelayRetries": _int(raw, "numMinDelayRetries", 0, 0, 100),
           "numMaxDelayRetries": _int(raw, "numMaxDelayRetries", 0, 0, 100),
           "backoffFunction": str(raw.get("backoffFunction", "linear")).lower()}
    if out["backoffFunction"] not in BACKOFF:
        raise errors.invalid(f"DeliveryPolicy: backoffFunction must be one of {', '.join(BACKOFF)}")
    fixed = out["numNoDelayRetries"] + out["numMinDelayRetries"] + out["numMaxDelayRetries"]
    if fixed > out["numRetries"]:
        raise errors.invalid("DeliveryPolicy: numRetries must be at least the sum of the other retry counts")
    if sum(retry_delay(out, n) for n in range(1, out["numRetries"] + 1)) > MAX_POLICY_SECONDS:
        raise errors.invalid(f"DeliveryPolicy: the total retry time exceeds {MAX_POLICY_SECONDS} seconds")
    return out


def _request_policy(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict) or not isinstance(raw.get("headerContentType", "text/plain"), str):
        raise errors.invalid("DeliveryPolicy: requestPolicy.headerContentType must be a string")
    return dict(raw)


def _throttle(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise errors.invalid("DeliveryPolicy: throttlePolicy must be an object")
    _int(raw, "maxReceivesPerSecond", 1, 1, 10**9)
    return dict(raw)


def _load(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise errors.invalid("DeliveryPolicy: not valid JSON") from None
    if not isinstance(value, dict):
        raise errors.invalid("DeliveryPolicy: must be a JSON object")
    return value


def topic_policy(text: str) -> dict[str, Any]:
    """A topic's DeliveryPolicy attribute → its effective policy (only `http` is used by Kura)."""
    raw = _load(text)
    http = raw.get("http", {})
    if not isinstance(http, dict):
        raise errors.invalid("DeliveryPolicy: http must be an object")
    out: dict[str, Any] = {"http": {
        "defaultHealthyRetryPolicy": retry_policy(http.get("defaultHealthyRetryPolicy", {})),
        "disableSubscriptionOverrides": bool(http.get("disableSubscriptionOverrides", False)),
        "defaultRequestPolicy": _request_policy(http.get("defaultRequestPolicy",
                                                         {"headerContentType": "text/plain; charset=UTF-8"})),
    }}
    if "defaultThrottlePolicy" in http:
        out["http"]["defaultThrottlePolicy"] = _throttle(http["defaultThrottlePolicy"])
    return out


def subscription_policy(text: str) -> dict[str, Any]:
    """A subscription's DeliveryPolicy attribute, checked."""
    raw = _load(text)
    out: dict[str, Any] = {}
    if "healthyRetryPolicy" in raw:
        out["healthyRetryPolicy"] = retry_policy(raw["healthyRetryPolicy"])
    if "requestPolicy" in raw:
        out["requestPolicy"] = _request_policy(raw["requestPolicy"])
    if "throttlePolicy" in raw:
        out["throttlePolicy"] = _throttle(raw["throttlePolicy"])
    return out


def effective(topic_attrs: dict[str, str], sub_attrs: dict[str, str]) -> dict[str, Any]:
    """What an HTTP/S subscription delivers with: its own policy over its topic's, unless the topic
    disables overrides. Keys: healthyRetryPolicy, requestPolicy (and throttlePolicy when set)."""
    topic = topic_policy(topic_attrs["DeliveryPolicy"]) if topic_attrs.get("DeliveryPolicy") \
        else DEFAULT_DELIVERY_POLICY
    http = topic["http"]
    out: dict[str, Any] = {"healthyRetryPolicy": dict(http["defaultHealthyRetryPolicy"]),
                           "requestPolicy": dict(http["defaultRequestPolicy"])}
    if "defaultThrottlePolicy" in http:
        out["throttlePolicy"] = dict(http["defaultThrottlePolicy"])
    if sub_attrs.get("DeliveryPolicy") and not http.get("disableSubscriptionOverrides"):
        out.update(subscription_policy(sub_attrs["DeliveryPolicy"]))
    return out


def retry_delay(policy: dict[str, Any], retry: int) -> float:
    """Seconds to wait before retry number `retry` (1-based) of `policy`."""
    no_delay, at_min = policy["numNoDelayRetries"], policy["numMinDelayRetries"]
    at_max = policy["numMaxDelayRetries"]
    backoff = policy["numRetries"] - no_delay - at_min - at_max
    low, high = float(policy["minDelayTarget"]), float(policy["maxDelayTarget"])
    if retry <= no_delay:
        return 0.0
    if retry <= no_delay + at_min:
        return low
    step = retry - no_delay - at_min
    if step > backoff:
        return high
    f = step / backoff
    shape = {"linear": f, "arithmetic": f * f, "geometric": f ** 3}.get(policy["backoffFunction"])
    if shape is None:  # exponential: the same ratio from each delay to the next
        return float(low * (high / low) ** f)
    return float(low + (high - low) * shape)
