"""The shapes the JSON API answers with, as pydantic models, so OpenAPI documents them.

Routes build plain dicts (mostly the ``to_dict()`` of library records, the same JSON the
CLI prints with ``--json``) and declare one of these as ``response_model``. Times are ISO
8601 text in UTC; durations are seconds. This module only re-exports them, by topic:

- :mod:`~dagwell.interfaces.web.schemas.common`: errors and the health check;
- :mod:`~dagwell.interfaces.web.schemas.runs`: runs, their nodes, graph, timeline and metrics;
- :mod:`~dagwell.interfaces.web.schemas.pipelines`: pipelines and the body that triggers a run;
- :mod:`~dagwell.interfaces.web.schemas.records`: models, datasets, lineage and artifact previews;
- :mod:`~dagwell.interfaces.web.schemas.accounts`: who is asking, users, tokens and the audit log.
"""

from __future__ import annotations

from dagwell.interfaces.web.schemas.accounts import AuditEntryOut as AuditEntryOut
from dagwell.interfaces.web.schemas.accounts import MeOut as MeOut
from dagwell.interfaces.web.schemas.accounts import RoleIn as RoleIn
from dagwell.interfaces.web.schemas.accounts import TokenCreatedOut as TokenCreatedOut
from dagwell.interfaces.web.schemas.accounts import TokenIn as TokenIn
from dagwell.interfaces.web.schemas.accounts import TokenOut as TokenOut
from dagwell.interfaces.web.schemas.accounts import UserIn as UserIn
from dagwell.interfaces.web.schemas.accounts import UserOut as UserOut
from dagwell.interfaces.web.schemas.accounts import UserRemovedOut as UserRemovedOut
from dagwell.interfaces.web.schemas.common import ErrorOut as ErrorOut
from dagwell.interfaces.web.schemas.common import HealthOut as HealthOut
from dagwell.interfaces.web.schemas.pipelines import ParamOut as ParamOut
from dagwell.interfaces.web.schemas.pipelines import PipelineDetailOut as PipelineDetailOut
from dagwell.interfaces.web.schemas.pipelines import PipelineOut as PipelineOut
from dagwell.interfaces.web.schemas.pipelines import RunBriefOut as RunBriefOut
from dagwell.interfaces.web.schemas.pipelines import TriggerIn as TriggerIn
from dagwell.interfaces.web.schemas.records import AliasIn as AliasIn
from dagwell.interfaces.web.schemas.records import DatasetReadOut as DatasetReadOut
from dagwell.interfaces.web.schemas.records import DatasetVersionOut as DatasetVersionOut
from dagwell.interfaces.web.schemas.records import LineageNodeOut as LineageNodeOut
from dagwell.interfaces.web.schemas.records import ModelDetailOut as ModelDetailOut
from dagwell.interfaces.web.schemas.records import ModelOut as ModelOut
from dagwell.interfaces.web.schemas.records import ModelVersionOut as ModelVersionOut
from dagwell.interfaces.web.schemas.records import PreviewOut as PreviewOut
from dagwell.interfaces.web.schemas.runs import AlertOut as AlertOut
from dagwell.interfaces.web.schemas.runs import AttemptBarOut as AttemptBarOut
from dagwell.interfaces.web.schemas.runs import AttemptOut as AttemptOut
from dagwell.interfaces.web.schemas.runs import AttemptsOut as AttemptsOut
from dagwell.interfaces.web.schemas.runs import CancelOut as CancelOut
from dagwell.interfaces.web.schemas.runs import DeliveryOut as DeliveryOut
from dagwell.interfaces.web.schemas.runs import GraphEdgeOut as GraphEdgeOut
from dagwell.interfaces.web.schemas.runs import GraphNodeOut as GraphNodeOut
from dagwell.interfaces.web.schemas.runs import GraphOut as GraphOut
from dagwell.interfaces.web.schemas.runs import MetricPointOut as MetricPointOut
from dagwell.interfaces.web.schemas.runs import MetricSeriesOut as MetricSeriesOut
from dagwell.interfaces.web.schemas.runs import MetricStepOut as MetricStepOut
from dagwell.interfaces.web.schemas.runs import QueuedOut as QueuedOut
from dagwell.interfaces.web.schemas.runs import RunDetailOut as RunDetailOut
from dagwell.interfaces.web.schemas.runs import RunMetricsOut as RunMetricsOut
from dagwell.interfaces.web.schemas.runs import RunOut as RunOut
from dagwell.interfaces.web.schemas.runs import RunPageOut as RunPageOut
from dagwell.interfaces.web.schemas.runs import StoredValueOut as StoredValueOut
from dagwell.interfaces.web.schemas.runs import TaskRunOut as TaskRunOut

__all__ = [
    "AlertOut",
    "AliasIn",
    "AttemptBarOut",
    "AttemptOut",
    "AttemptsOut",
    "AuditEntryOut",
    "CancelOut",
    "DatasetReadOut",
    "DatasetVersionOut",
    "DeliveryOut",
    "ErrorOut",
    "GraphEdgeOut",
    "GraphNodeOut",
    "GraphOut",
    "HealthOut",
    "LineageNodeOut",
    "MeOut",
    "MetricPointOut",
    "MetricSeriesOut",
    "MetricStepOut",
    "ModelDetailOut",
    "ModelOut",
    "ModelVersionOut",
    "ParamOut",
    "PipelineDetailOut",
    "PipelineOut",
    "PreviewOut",
    "QueuedOut",
    "RoleIn",
    "RunBriefOut",
    "RunDetailOut",
    "RunMetricsOut",
    "RunOut",
    "RunPageOut",
    "StoredValueOut",
    "TaskRunOut",
    "TokenCreatedOut",
    "TokenIn",
    "TokenOut",
    "TriggerIn",
    "UserIn",
    "UserOut",
    "UserRemovedOut",
]
