"""Exporting a registered scikit-learn model in MLflow's model format (the ``mlflow`` extra).

The result is a folder with an ``MLmodel`` file that ``mlflow.pyfunc.load_model`` and
``mlflow models serve`` understand, so a model registered in dagwell can go wherever
MLflow models go.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagwell.errors import DagwellError, DefinitionError


def export_mlflow(model: Any, path: str | Path, *, description: str = "") -> Path:
    """Write ``model`` (a scikit-learn estimator) to the empty or new folder ``path``.

    >>> export_mlflow(dw.models.load("churn@production"), "exported/churn")
    """
    try:
        import mlflow.sklearn
    except ImportError:
        raise DagwellError(
            "exporting to MLflow's format needs the mlflow extra: pip install 'dagwell[mlflow]'"
        ) from None
    from sklearn.base import BaseEstimator

    if not isinstance(model, BaseEstimator):
        raise DefinitionError(
            f"only scikit-learn models can be exported in MLflow's format; this model is a "
            f"{type(model).__module__}.{type(model).__qualname__}"
        )
    target = Path(path)
    if target.exists() and any(target.iterdir()):
        raise DefinitionError(f"{target} is not empty; export into a new or empty folder")
    if target.exists():
        target.rmdir()  # mlflow creates the folder itself and refuses an existing one
    mlflow.sklearn.save_model(model, str(target), metadata={"description": description})
    return target
