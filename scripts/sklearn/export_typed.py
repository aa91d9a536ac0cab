"""Train a model on typed columns (numbers and strings), export it to ONNX for kscore, and describe it.

    venv=$(scripts/python-env scripts/sklearn/requirements-boost.txt)
    $venv/bin/python scripts/sklearn/export_typed.py --model columns --out model.onnx
    npx kscore model register --name churn --file model.onnx        # reads model.onnx.json

Models (all binary classifiers on the same synthetic customer table, generated here: nothing is
downloaded):
- columns: a scikit-learn ColumnTransformer (StandardScaler on the numeric columns, OneHotEncoder
  on the string ones) and a LogisticRegression, converted with skl2onnx: one [N, 1] input per
  column (float for numbers, int64 for the count, string for categories), each filled from the
  event field of its name;
- xgboost, lightgbm: XGBClassifier and LGBMClassifier on the numeric columns, converted with
  onnxmltools: one float input [N, k] named "features", filled by the listed fields.

Writes MODEL.onnx and MODEL.onnx.json (features or none, output mapping, metrics). With
--reference FILE it also writes the test rows (as events) and the library's own probabilities.
"""

import argparse
import json

import numpy as np
import pandas as pd

NUMERIC = ["age", "income", "tenure"]
COUNT = "n_orders"
CATEGORIES = {"country": ["de", "fr", "it", "us"], "device": ["android", "ios", "web"]}


def table(n: int, seed: int) -> tuple:
    """A customer table and a churn target that depends on every column."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            # float32 values, so an event's number is exactly what the float input holds.
            "age": rng.uniform(18, 80, n).astype(np.float32),
            "income": rng.normal(50, 15, n).astype(np.float32),
            "tenure": rng.exponential(3, n).astype(np.float32),
            COUNT: rng.integers(0, 40, n).astype(np.int64),
            "country": rng.choice(CATEGORIES["country"], n),
            "device": rng.choice(CATEGORIES["device"], n),
        }
    )
    z = (
        -0.04 * (df["age"] - 45)
        + 0.03 * (df["income"] - 50)
        - 0.3 * df["tenure"]
        + 0.05 * df[COUNT]
        + df["country"].map({"de": -0.5, "fr": 0.2, "it": 0.6, "us": -0.1})
        + df["device"].map({"android": 0.4, "ios": -0.3, "web": 0.0})
    )
    y = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    return df, y


def columns_model(train: pd.DataFrame, y: np.ndarray):
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), NUMERIC + [COUNT]),
            ("cat", OneHotEncoder(), list(CATEGORIES)),
        ]
    )
    pipe = Pipeline([("pre", pre), ("model", LogisticRegression(max_iter=2000))])
    pipe.fit(train, y)
    types = [(c, FloatTensorType([None, 1])) for c in NUMERIC]
    types += [(COUNT, Int64TensorType([None, 1]))]
    types += [(c, StringTensorType([None, 1])) for c in CATEGORIES]
    onx = convert_sklearn(
        pipe,
        initial_types=types,
        options={id(pipe.steps[-1][1]): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    return pipe, onx, None


def boosted_model(kind: str, train: pd.DataFrame, y: np.ndarray):
    from onnxmltools import convert_lightgbm, convert_xgboost
    from onnxmltools.convert.common.data_types import FloatTensorType

    features = NUMERIC + [COUNT]
    X = train[features].to_numpy(dtype=np.float32)
    types = [("features", FloatTensorType([None, len(features)]))]
    if kind == "xgboost":
        from xgboost import XGBClassifier

        model = XGBClassifier(n_estimators=40, max_depth=4, learning_rate=0.2, random_state=0)
        model.fit(X, y)
        onx = convert_xgboost(model, initial_types=types, target_opset=15)
    else:
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(n_estimators=40, num_leaves=15, learning_rate=0.2, random_state=0, verbose=-1)
        model.fit(X, y)
        onx = convert_lightgbm(model, initial_types=types, target_opset=15, zipmap=False)
    return model, onx, features


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["columns", "xgboost", "lightgbm"], default="columns")
    p.add_argument("--out", required=True, help="where to write the ONNX model")
    p.add_argument("--reference", help="also write the test rows as events and the library's probabilities (JSON)")
    p.add_argument("--rows", type=int, default=300, help="test rows in the reference")
    args = p.parse_args()

    df, y = table(1500 + args.rows, seed=7)
    train, test = df.iloc[:1500], df.iloc[1500:]
    if args.model == "columns":
        model, onx, features = columns_model(train, y[:1500])
        proba = model.predict_proba(test)
    else:
        model, onx, features = boosted_model(args.model, train, y[:1500])
        proba = model.predict_proba(test[features].to_numpy(dtype=np.float32))
    with open(args.out, "wb") as f:
        f.write(onx.SerializeToString())

    outputs = [o.name for o in onx.graph.output]
    sidecar = {"outputs": {"label": outputs[0], "probabilities": outputs[1]}, "source": f"{args.model} on a synthetic customer table"}
    if features is not None:
        sidecar["features"] = features
    with open(args.out + ".json", "w") as f:
        json.dump(sidecar, f, indent=2)

    if args.reference:
        events = [
            {k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in test.to_dict(orient="records")
        ]
        ref = {"events": events, "probabilities": proba.tolist(), "categories": CATEGORIES}
        with open(args.reference, "w") as f:
            json.dump(ref, f)
    print(json.dumps({"model": args.out, "outputs": sidecar["outputs"], "inputs": [i.name for i in onx.graph.input]}))


if __name__ == "__main__":
    main()
