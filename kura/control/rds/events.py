"""RDS events of a DB instance (DescribeEvents), written by the reconcilers' steps."""

from __future__ import annotations

from typing import Any

from kura.control.rds import master_password
from kura.env import Env
from kura.services.rds.records import SOURCE_INSTANCE
from kura.store.types import Event, Resource


def arn_of(env: Env, res: Resource) -> str:
    return master_password.instance_arn(env, res)


def event(env: Env, res: Resource, message: str, *categories: str, **extra: Any) -> None:
    env.store.add_event(Event(res.region, SOURCE_INSTANCE, res.id, message, categories,
                              extra={"arn": arn_of(env, res), **extra}))
