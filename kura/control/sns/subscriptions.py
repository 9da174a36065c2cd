"""The `sns.subscription` reconciler: an unconfirmed subscription, or one unsubscribed (kept for its
UnsubscribeConfirmation's link), goes once its token's three days are over."""

from __future__ import annotations

from kura.control.registry import reconciler
from kura.control.types import Outcome
from kura.env import Env
from kura.services.sns.records import KIND_SUBSCRIPTION, TOKEN_LIFETIME
from kura.store.types import Resource, VersionConflict


@reconciler
class SubscriptionReconciler:
    kind = KIND_SUBSCRIPTION
    source_type = "sns-subscription"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        unsubscribed = bool(res.spec.get("unsubscribed"))
        if res.spec.get("confirmed") and not unsubscribed:
            return Outcome("confirmed")
        left = float(res.spec.get("token_at", 0.0)) + TOKEN_LIFETIME - env.clock.now()
        state = "unsubscribed" if unsubscribed else "pending confirmation"
        if left > 0:
            return Outcome(f"{state}; removed in {left:.0f}s unless confirmed", requeue_after=left)
        try:
            env.store.delete(res)
        except VersionConflict:
            return Outcome("changed meanwhile", requeue_after=0)
        return Outcome(f"removed: {state} for {TOKEN_LIFETIME // 3600} hours")
