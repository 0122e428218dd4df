"""The quality classifier: a random forest on (embedding, teacher label), as phi-1 did.

Beside it, on the same split, a logistic-regression head (FineWeb-Edu's choice); held-out
accuracy, F1 and ROC-AUC of both go side by side into `classifier.json`. The chosen one
(`model`, default the paper's forest) is saved with its metadata and scores every record;
`keep` then takes records by probability (`0.5`: quality >= 0.5) or by rank (`top:0.3`).

    trained = train_classifier(embedded_sample, labels, ClassifyConfig(), out_dir)
    quality = load_classifier(out_dir).predict_proba(vectors)[:, 1]
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from textbooks.config import output
from textbooks.errors import UserError
from textbooks.io import atomic_write_json

MODEL_FILE = "model.joblib"
META_FILE = "classifier.json"
MODELS = ("random_forest", "logistic_regression")


@dataclass(frozen=True)
class ClassifyConfig:
    """YAML section `classify:`."""

    threshold: str = output("3")  # label = edu_score >= threshold; "auto": the sample's median (weak teachers)
    model: Literal["random_forest", "logistic_regression"] = output("random_forest")
    keep: str = output("0.5")  # a probability (keep quality >= it) or "top:F" (the best fraction F)
    test_fraction: float = output(0.25)
    n_estimators: int = output(300)
    seed: int = output(0)

    def __post_init__(self) -> None:
        if self.threshold != "auto":
            try:
                float(self.threshold)
            except ValueError:
                raise UserError(f"classify.threshold: {self.threshold!r}; expected a score 0-5 or 'auto'") from None
        if self.model not in MODELS:
            raise UserError(f"classify.model: {self.model!r}; expected one of {', '.join(MODELS)}")
        self.keep_rule()
        if not 0.0 < self.test_fraction < 1.0:
            raise UserError(f"classify.test_fraction: {self.test_fraction}; expected between 0 and 1")

    def keep_rule(self) -> tuple[str, float]:
        """("probability", p) or ("top", fraction)."""
        kind, _, value = self.keep.rpartition(":")
        try:
            number = float(value)
        except ValueError:
            number = -1.0
        if kind == "" and 0.0 <= number <= 1.0:
            return "probability", number
        if kind == "top" and 0.0 < number <= 1.0:
            return "top", number
        raise UserError(f"classify.keep: {self.keep!r}; expected a probability such as 0.5, or top:F with 0 < F <= 1")


def make_model(name: str, config: ClassifyConfig):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    if name == "random_forest":
        return RandomForestClassifier(n_estimators=config.n_estimators, class_weight="balanced",
                                      random_state=config.seed, n_jobs=-1)
    return LogisticRegression(max_iter=2000, class_weight="balanced", random_state=config.seed)


def held_out_metrics(model, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    probability = model.predict_proba(x)[:, 1]
    predicted = (probability >= 0.5).astype(int)
    return {"accuracy": float(accuracy_score(y, predicted)), "f1": float(f1_score(y, predicted, zero_division=0)),
            "roc_auc": float(roc_auc_score(y, probability))}


def train_classifier(vectors: np.ndarray, labels: list[int], config: ClassifyConfig, out_dir: str | Path,
                     meta: dict[str, Any]) -> dict[str, Any]:
    """Fit both heads on one seeded, stratified split; save the chosen one; return the metadata."""
    import joblib
    import sklearn
    from sklearn.model_selection import train_test_split

    y = np.asarray(labels)
    counts = np.bincount(y, minlength=2)
    if counts.min() < 2:
        raise UserError(f"classifier: {counts[0]} negative and {counts[1]} positive labels; each class needs at least "
                        "2 files to split into train and test (annotate a larger --sample)")
    x_train, x_test, y_train, y_test = train_test_split(
        vectors, y, test_size=config.test_fraction, random_state=config.seed, stratify=y)
    if len(set(y_test)) < 2 or len(set(y_train)) < 2:
        raise UserError(f"classifier: {len(y)} labelled files are too few to hold out both classes; annotate a larger --sample")
    models, metrics = {}, {}
    for name in MODELS:
        models[name] = make_model(name, config).fit(x_train, y_train)
        metrics[name] = held_out_metrics(models[name], x_test, y_test)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f".{MODEL_FILE}.tmp"
    joblib.dump(models[config.model], tmp)
    tmp.replace(out_dir / MODEL_FILE)
    metadata = {
        **meta, "config": asdict(config), "model": config.model, "dim": int(vectors.shape[1]),
        "train": {"files": len(y_train), "positive": int(y_train.sum())},
        "test": {"files": len(y_test), "positive": int(y_test.sum())},
        "metrics": metrics, "sklearn_version": sklearn.__version__,
    }
    atomic_write_json(out_dir / META_FILE, metadata)
    return metadata


def load_classifier(out_dir: str | Path):
    import joblib

    path = Path(out_dir) / MODEL_FILE
    if not path.is_file():
        raise UserError(f"{path}: no trained classifier; run `textbooks curate classify` first")
    return joblib.load(path)


def read_metadata(out_dir: str | Path) -> dict[str, Any]:
    path = Path(out_dir) / META_FILE
    if not path.is_file():
        raise UserError(f"{path}: no classifier metadata; run `textbooks curate classify` first")
    return json.loads(path.read_text(encoding="utf-8"))


def keep_cutoff(config: ClassifyConfig, qualities: np.ndarray) -> float:
    """The lowest quality kept: the probability itself, or the score at the top fraction's edge."""
    kind, value = config.keep_rule()
    if kind == "probability" or len(qualities) == 0:
        return value if kind == "probability" else 1.0
    kept = max(1, int(round(value * len(qualities))))
    return float(np.sort(qualities)[::-1][kept - 1])


def format_metrics(metrics: dict[str, dict[str, float]]) -> str:
    lines = [f"{'held-out':<22}{'accuracy':>10}{'F1':>8}{'ROC-AUC':>9}"]
    for name, m in metrics.items():
        lines.append(f"{name:<22}{m['accuracy']:>10.3f}{m['f1']:>8.3f}{m['roc_auc']:>9.3f}")
    return "\n".join(lines)
