"""dagwell: machine-learning pipelines as DAGs of Python tasks, with every run recorded.

>>> import dagwell as dw
>>> @dw.task
... def double(x: int) -> int:
...     return 2 * x
>>> @dw.pipeline
... def demo(x: int = 2):
...     return double(x)
>>> dw.run(demo, executor="inline").result()
4
"""

from dagwell.core.alerts import Alert as Alert
from dagwell.core.alerts import AlertKind as AlertKind
from dagwell.core.context import TaskContext as TaskContext
from dagwell.core.context import current as current
from dagwell.core.datasets import Dataset as Dataset
from dagwell.core.datasets import dataset as dataset
from dagwell.core.models import Model as Model
from dagwell.core.models import ModelVersion as ModelVersion
from dagwell.core.pipeline import Pipeline as Pipeline
from dagwell.core.pipeline import pipeline as pipeline
from dagwell.core.records import Attempt as Attempt
from dagwell.core.records import CodeSnapshot as CodeSnapshot
from dagwell.core.records import Metric as Metric
from dagwell.core.records import Run as Run
from dagwell.core.records import TaskRun as TaskRun
from dagwell.core.schedules import Schedule as Schedule
from dagwell.core.schedules import every as every
from dagwell.core.states import RunState as RunState
from dagwell.core.states import TaskState as TaskState
from dagwell.core.task import Task as Task
from dagwell.core.task import shell as shell
from dagwell.core.task import task as task
from dagwell.errors import CycleError as CycleError
from dagwell.errors import DagwellError as DagwellError
from dagwell.errors import DefinitionError as DefinitionError
from dagwell.errors import NotFoundError as NotFoundError
from dagwell.errors import ParamError as ParamError
from dagwell.errors import PipelineLoadError as PipelineLoadError
from dagwell.errors import SerializationError as SerializationError
from dagwell.errors import StorageError as StorageError
from dagwell.errors import TaskError as TaskError
from dagwell.errors import TaskTimeoutError as TaskTimeoutError
from dagwell.errors import WorkerDiedError as WorkerDiedError
from dagwell.execution import notifiers as notify  # a namespace: dw.notify.log()
from dagwell.execution.alerts import list_alerts as list_alerts
from dagwell.execution.caching import clear_cache as clear_cache
from dagwell.execution.caching import why as why
from dagwell.execution.cancel import cancel as cancel
from dagwell.execution.hooks import Hooks as Hooks
from dagwell.execution.loader import load_pipeline as load_pipeline
from dagwell.execution.pools import delete_pool as delete_pool
from dagwell.execution.pools import list_pools as list_pools
from dagwell.execution.pools import set_pool as set_pool
from dagwell.execution.rerun import reproduced as reproduced
from dagwell.execution.rerun import rerun as rerun
from dagwell.execution.runs import get_run as get_run
from dagwell.execution.runs import list_datasets as list_datasets
from dagwell.execution.runs import list_runs as list_runs
from dagwell.execution.runs import resume as resume
from dagwell.execution.runs import run as run
from dagwell.scheduling.triggers import Backfill as Backfill
from dagwell.scheduling.triggers import backfill as backfill
from dagwell.scheduling.triggers import registered_pipelines as registered_pipelines
from dagwell.scheduling.triggers import trigger as trigger
from dagwell.settings import Settings as Settings
from dagwell.tracking.lineage import LineageNode as LineageNode
from dagwell.tracking.lineage import lineage as lineage
from dagwell.tracking.logging import log_metric as log_metric
from dagwell.tracking.logging import log_metrics as log_metrics
from dagwell.tracking.logging import log_param as log_param
from dagwell.tracking.logging import log_params as log_params
from dagwell.tracking.registry import log_model as log_model
from dagwell.tracking.registry import models as models

__version__ = "0.1.0"

__all__ = [
    "Alert",
    "AlertKind",
    "Attempt",
    "Backfill",
    "CodeSnapshot",
    "CycleError",
    "DagwellError",
    "Dataset",
    "DefinitionError",
    "Hooks",
    "LineageNode",
    "Metric",
    "Model",
    "ModelVersion",
    "NotFoundError",
    "ParamError",
    "Pipeline",
    "PipelineLoadError",
    "Run",
    "RunState",
    "Schedule",
    "SerializationError",
    "Settings",
    "StorageError",
    "Task",
    "TaskContext",
    "TaskError",
    "TaskRun",
    "TaskState",
    "TaskTimeoutError",
    "WorkerDiedError",
    "backfill",
    "cancel",
    "clear_cache",
    "current",
    "dataset",
    "delete_pool",
    "every",
    "get_run",
    "lineage",
    "list_alerts",
    "list_datasets",
    "list_pools",
    "list_runs",
    "load_pipeline",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "models",
    "notify",
    "pipeline",
    "registered_pipelines",
    "reproduced",
    "rerun",
    "resume",
    "run",
    "set_pool",
    "shell",
    "task",
    "trigger",
    "why",
]
