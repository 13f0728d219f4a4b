"""The built-in demo: a real ML pipeline on scikit-learn's breast-cancer dataset.

Ingestion, preprocessing, feature engineering, a fan-out of candidate models trained in
parallel, evaluation on held-out data, and registering the best in the model registry
(``dagwell demo`` then gives it the alias ``production``). DataFrames and fitted models
pass between tasks through the artifact store. Needs the ``ml`` extra.

    dagwell demo                      # or: dagwell run examples/ml_demo.py
"""

from __future__ import annotations

import logging
from typing import Any

import dagwell as dw

log = logging.getLogger(__name__)

MODEL_NAME = "breast_cancer_classifier"
"""The name the best model is registered under."""

CANDIDATES: list[dict[str, Any]] = [
    {"kind": "logistic", "C": 0.1},
    {"kind": "logistic", "C": 1.0},
    {"kind": "logistic", "C": 10.0},
    {"kind": "forest", "n_estimators": 100, "max_depth": 4},
    {"kind": "forest", "n_estimators": 200, "max_depth": None},
    {"kind": "boosting", "n_estimators": 100, "learning_rate": 0.1},
]


def bundled_csv() -> str:
    """The CSV file scikit-learn ships the dataset in (no download needed)."""
    import importlib.resources

    return str(importlib.resources.files("sklearn.datasets.data") / "breast_cancer.csv")


@dw.task
def ingest(source: str) -> Any:
    """Load the dataset as one DataFrame, the target in column ``target``.

    ``source`` is the file scikit-learn reads, recorded as a dataset so each run keeps its
    content hash.
    """
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    log.info("loaded %d rows, %d columns from %s", *frame.shape, source)
    return frame


@dw.task(cache=True)
def preprocess(raw: Any) -> Any:
    """Drop duplicate rows and rows with missing values; tidy the column names."""
    frame = raw.drop_duplicates().dropna()
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    log.info("kept %d of %d rows", len(frame), len(raw))
    return frame


@dw.task
def engineer_features(clean: Any) -> Any:
    """Add ratio and log features that help the linear models."""
    import numpy as np

    frame = clean.copy()
    frame["area_per_perimeter"] = frame["mean_area"] / frame["mean_perimeter"]
    frame["log_worst_area"] = np.log1p(frame["worst_area"])
    frame["texture_x_smoothness"] = frame["mean_texture"] * frame["mean_smoothness"]
    return frame


@dw.task(outputs=("train", "test"))
def split(features: Any, test_size: float = 0.25, seed: int = 0) -> tuple[Any, Any]:
    """Stratified train/test split."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(
        features, test_size=test_size, random_state=seed, stratify=features["target"]
    )
    return train, test


@dw.task(retries=1)
def train(train: Any, config: dict[str, Any], seed: int = 0) -> Any:
    """Fit one candidate model (a scaled pipeline) described by ``config``."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    options = {k: v for k, v in config.items() if k != "kind"}
    if config["kind"] == "logistic":
        model = LogisticRegression(max_iter=2000, **options)
    elif config["kind"] == "forest":
        model = RandomForestClassifier(random_state=seed, n_jobs=1, **options)
    else:
        model = GradientBoostingClassifier(random_state=seed, **options)
    dw.log_params(config)
    pipeline = make_pipeline(StandardScaler(), model)
    pipeline.fit(train.drop(columns="target"), train["target"])
    log.info("trained %s", config)
    return pipeline


@dw.task
def evaluate(model: Any, test: Any, config: dict[str, Any]) -> dict[str, Any]:
    """Accuracy, F1 and ROC AUC of one model on the held-out set."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    features, target = test.drop(columns="target"), test["target"]
    predicted = model.predict(features)
    scores = model.predict_proba(features)[:, 1]
    metrics = {
        "accuracy": round(float(accuracy_score(target, predicted)), 4),
        "f1": round(float(f1_score(target, predicted)), 4),
        "roc_auc": round(float(roc_auc_score(target, scores)), 4),
    }
    dw.log_metrics(metrics)
    return {"config": config, **metrics}


@dw.task
def pick_best(
    evaluations: list[dict[str, Any]], models: list[Any], metric: str = "roc_auc"
) -> dict[str, Any]:
    """Register the model with the highest ``metric``; prints a leaderboard to the log."""
    ranked = sorted(range(len(evaluations)), key=lambda i: evaluations[i][metric], reverse=True)
    for rank, i in enumerate(ranked, 1):
        e = evaluations[i]
        print(f"{rank}. {e['config']}: {metric}={e[metric]} accuracy={e['accuracy']}")
    best = evaluations[ranked[0]]
    dw.log_model(models[ranked[0]], MODEL_NAME, metadata={"selected_by": metric, **best})
    return best


def promote(
    run: dw.Run, alias: str = "production", *, settings: dw.Settings | None = None
) -> dw.ModelVersion:
    """Point ``alias`` at the model version ``run`` registered, and return that version.

    A run registers versions; promoting one is a separate decision taken after looking at
    the run, as with a model registry's aliases (``dagwell models alias`` does the same).

    >>> promote(dw.run(ml_demo)).spec
    'breast_cancer_classifier@1'
    """
    registered = dw.models.versions(MODEL_NAME, run_id=run.id, settings=settings)
    if not registered:
        raise dw.NotFoundError(f"run {run.id} registered no {MODEL_NAME!r} model")
    return dw.models.set_alias(MODEL_NAME, registered[-1].version, alias, settings=settings)


@dw.pipeline(name="ml_demo")
def ml_demo(test_size: float = 0.25, seed: int = 0, metric: str = "roc_auc") -> Any:
    """Train six candidate classifiers in parallel and keep the best by ``metric``."""
    features = engineer_features(preprocess(ingest(dw.dataset(bundled_csv()))))
    train_set, test_set = split(features, test_size=test_size, seed=seed)
    models = [train(train_set, config=c, seed=seed) for c in CANDIDATES]
    evaluations = [evaluate(m, test_set, config=c) for m, c in zip(models, CANDIDATES, strict=True)]
    return pick_best(evaluations, models, metric=metric)
