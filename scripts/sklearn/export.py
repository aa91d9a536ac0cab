"""Train (or load) a scikit-learn pipeline, export it to ONNX for kscore, and describe it.

    venv=$(scripts/python-env)
    $venv/bin/python scripts/sklearn/export.py --dataset breast_cancer --estimator logistic --out model.onnx
    npx kscore model register --name cancer --file model.onnx        # reads model.onnx.json

Writes MODEL.onnx and MODEL.onnx.json (features, output mapping, training metrics and per-feature
baseline statistics for drift monitoring). With --reference FILE it also writes the rows it was
evaluated on and scikit-learn's own predictions, so a test can compare the service against them.

Your own pipeline: build it in `make_pipeline` (or unpickle it), keep one float input of shape
[N, features], and convert classifiers with zipmap disabled, as below.
"""

import argparse
import json

import numpy as np
from sklearn import datasets
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType

DATASETS = {
    # Shipped inside scikit-learn: nothing is downloaded.
    "breast_cancer": (datasets.load_breast_cancer, "classifier"),
    "iris": (datasets.load_iris, "classifier"),
    "wine": (datasets.load_wine, "classifier"),
    "diabetes": (datasets.load_diabetes, "regressor"),
}


def make_pipeline(estimator: str, task: str) -> Pipeline:
    if task == "regressor":
        return Pipeline([("scale", StandardScaler()), ("model", Ridge(alpha=1.0))])
    models = {
        "logistic": LogisticRegression(max_iter=5000),
        "gbt": GradientBoostingClassifier(n_estimators=50, max_depth=3, random_state=0),
        "forest": RandomForestClassifier(n_estimators=50, max_depth=6, random_state=0),
    }
    return Pipeline([("scale", StandardScaler()), ("model", models[estimator])])


def baseline(X: np.ndarray, names: list) -> dict:
    """Mean, standard deviation and decile bins of each feature (shares of training rows per bin)."""
    out = {}
    for j, name in enumerate(names):
        col = X[:, j].astype(np.float64)
        edges = np.unique(np.quantile(col, np.linspace(0.1, 0.9, 9)))
        counts = np.bincount(np.searchsorted(edges, col, side="right"), minlength=len(edges) + 1)
        out[name] = {
            "mean": float(col.mean()),
            "std": float(col.std()),
            "edges": [float(e) for e in edges],
            "shares": [float(c) / len(col) for c in counts],
        }
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=sorted(DATASETS), default="breast_cancer")
    p.add_argument("--estimator", choices=["logistic", "gbt", "forest"], default="logistic")
    p.add_argument("--out", required=True, help="where to write the ONNX model")
    p.add_argument("--reference", help="also write evaluation rows and scikit-learn's predictions (JSON)")
    args = p.parse_args()

    load, task = DATASETS[args.dataset]
    data = load()
    names = [n.replace(" ", "_").replace("(", "").replace(")", "") for n in data.feature_names]
    X = data.data.astype(np.float32)
    y = data.target
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    pipe = make_pipeline(args.estimator, task)
    pipe.fit(X_train, y_train)

    options = {id(pipe.steps[-1][1]): {"zipmap": False}} if task == "classifier" else None
    onx = convert_sklearn(
        pipe,
        initial_types=[("features", FloatTensorType([None, X.shape[1]]))],
        options=options,
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    with open(args.out, "wb") as f:
        f.write(onx.SerializeToString())

    outputs = [o.name for o in onx.graph.output]
    if task == "classifier":
        proba = pipe.predict_proba(X_test)
        pred = pipe.predict(X_test)
        metrics = {"accuracy": float(accuracy_score(y_test, pred))}
        if proba.shape[1] == 2:
            metrics["auc"] = float(roc_auc_score(y_test, proba[:, 1]))
        mapping = {"label": outputs[0], "probabilities": outputs[1]}
    else:
        pred = pipe.predict(X_test)
        metrics = {"rmse": float(np.sqrt(mean_squared_error(y_test, pred)))}
        mapping = {"score": outputs[0]}

    sidecar = {
        "features": names,
        "outputs": mapping,
        "metrics": metrics,
        "baseline": baseline(X_train, names),
        "source": f"scikit-learn {args.estimator} on {args.dataset}",
    }
    with open(args.out + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)

    if args.reference:
        ref = {"features": names, "rows": X_test.tolist(), "target": y_test.tolist()}
        if task == "classifier":
            ref["probabilities"] = pipe.predict_proba(X_test).tolist()
            ref["label"] = pipe.predict(X_test).tolist()
        else:
            ref["prediction"] = pipe.predict(X_test).tolist()
        with open(args.reference, "w") as f:
            json.dump(ref, f)
    print(json.dumps({"model": args.out, "features": len(names), "outputs": mapping, "metrics": metrics}))


if __name__ == "__main__":
    main()
