#!/usr/bin/env python3
"""Builds the ONNX test models of `services/models` and the reference telecom propensity model.

Writes `services/models/testdata/<name>.onnx` + `<name>.json` (inputs and the exporting library's
own predictions) and `usecases/reference/models/telecom-cross-sell.onnx`. Every model is checked
against onnxruntime (within 1e-5) before it is written, so the Rust tests need no Python.

Deterministic: fixed seeds, single-threaded training. Needs Python 3.11 and, from PyPI,
scikit-learn, lightgbm, xgboost (optional), skl2onnx, onnxmltools, onnx, onnxruntime, numpy.
`scripts/make-test-models.py --setup` creates the venv ~/.cache/revenue-engine/models-venv with
them and re-runs itself there.
"""

import hashlib
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTDATA = ROOT / "services" / "models" / "testdata"
TELECOM = ROOT / "usecases" / "reference" / "models" / "telecom-cross-sell.onnx"
VENV = Path.home() / ".cache" / "revenue-engine" / "models-venv"
PACKAGES = ["numpy", "scikit-learn", "lightgbm", "xgboost", "skl2onnx", "onnxmltools", "onnx", "onnxruntime"]
TOLERANCE = 1e-5
MAX_BYTES = 300 * 1024
N_TEST_ROWS = 200


def setup_and_rerun() -> None:
    """Creates the venv with the exporters and runs this script inside it."""
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
    os.execv(str(python), [str(python), __file__])


if __name__ == "__main__" and "--setup" in sys.argv:
    setup_and_rerun()

import numpy as np  # noqa: E402
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from lightgbm import LGBMClassifier, LGBMRegressor  # noqa: E402
from onnxmltools import convert_lightgbm  # noqa: E402
from onnxmltools.convert.common.data_types import FloatTensorType as MltFloat  # noqa: E402
from skl2onnx import to_onnx  # noqa: E402
from sklearn.ensemble import (  # noqa: E402
    GradientBoostingClassifier,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

try:
    import xgboost
    from onnxmltools import convert_xgboost
except ImportError:  # optional: the xgb_100 model is skipped without it
    xgboost = None

warnings.filterwarnings("ignore")
SKL_OPSET = {"": 15, "ai.onnx.ml": 3}
MLT_OPSET = 15


def f32(a):
    """Rounds to float32 and back, so every value written to JSON is exactly representable."""
    return np.asarray(a, dtype=np.float32)


def binary_data(seed: int, n: int, n_features: int = 6, nan_share: float = 0.0):
    """Features on mixed scales with a planted non-linear relationship to a binary label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features))
    x[:, 1] = np.round(rng.uniform(0, 10, size=n))  # a count
    x[:, 2] = rng.exponential(2.0, size=n)
    logit = 1.2 * x[:, 0] + 0.3 * x[:, 1] - 0.4 * x[:, 2] + 0.8 * np.sin(2 * x[:, 3]) + 0.5 * x[:, 4] * x[:, 5] - 1.0
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    x = f32(np.round(x, 3))
    if nan_share > 0:
        mask = rng.uniform(size=x.shape) < nan_share
        x[mask] = np.nan
    return x, y


def regression_data(seed: int, n: int, n_features: int = 6, nan_share: float = 0.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, n_features))
    y = 3.0 * x[:, 0] - 2.0 * x[:, 1] + np.abs(x[:, 2]) * 4.0 + x[:, 3] * x[:, 4] + rng.normal(scale=0.5, size=n) + 10.0
    x = f32(np.round(x, 3))
    if nan_share > 0:
        mask = rng.uniform(size=x.shape) < nan_share
        x[mask] = np.nan
    return x, y


def run_onnxruntime(model: onnx.ModelProto, x: np.ndarray, output: str, cls: int) -> np.ndarray:
    """The score as onnxruntime computes it: the float output that is not the label."""
    options = ort.SessionOptions()
    options.log_severity_level = 3  # onnxmltools declares the label shape [1]; onnxruntime warns on every run
    sess = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    outs = sess.run(None, {sess.get_inputs()[0].name: x})
    floats = [o for o in outs if o.dtype in (np.float32, np.float64)]
    assert len(floats) == 1, f"expected one float output, got {len(floats)}"
    out = floats[0]
    if output == "probability":
        return out[:, cls].astype(np.float64)
    return out.reshape(-1).astype(np.float64)


def reproducible(model: onnx.ModelProto, name: str) -> None:
    """Converters name graphs with random ids and list opsets in hash order: fix both."""
    model.graph.name = name
    versions: dict[str, int] = {}
    for op in model.opset_import:
        versions[op.domain] = max(op.version, versions.get(op.domain, 0))
    del model.opset_import[:]
    model.opset_import.extend(helper.make_opsetid(d, v) for d, v in sorted(versions.items()))


def write_case(name: str, model: onnx.ModelProto, x: np.ndarray, expected: np.ndarray, output: str, path: Path | None = None,
               cls: int = 1, note: str = "") -> None:
    """Checks onnxruntime against the library's predictions and writes the model and its JSON."""
    reproducible(model, name)
    got = run_onnxruntime(model, x, output, cls)
    if expected is None:  # hand-built graphs: onnxruntime is the reference
        expected = got
    diff = np.max(np.abs(got - expected))
    assert diff <= TOLERANCE, f"{name}: onnxruntime differs from the library by {diff:g}"
    data = model.SerializeToString()
    assert len(data) < MAX_BYTES, f"{name}: {len(data)} bytes, keep test models under {MAX_BYTES}"
    path = path or TESTDATA / f"{name}.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    case = {
        "n_inputs": int(x.shape[1]),
        "output": output,
        "class": cls,
        "inputs": [[None if np.isnan(v) else float(v) for v in row] for row in x],
        "expected": [float(v) for v in expected],
    }
    if note:
        case["note"] = note
    if path.parent != TESTDATA:
        case["model"] = os.path.relpath(path, TESTDATA)
    (TESTDATA / f"{name}.json").write_text(json.dumps(case, indent=None, separators=(",", ":")) + "\n")
    nan_rows = int(np.isnan(x).any(axis=1).sum())
    print(f"{name:22s} {len(data):7d} bytes  {len(x)} rows ({nan_rows} with NaN)  onnxruntime max diff {diff:.2e}")


def skl(model, x) -> onnx.ModelProto:
    return to_onnx(model, x[:1], target_opset=SKL_OPSET, options={id(model): {"zipmap": False}}
                   if hasattr(model, "predict_proba") else None)


def main() -> None:
    TESTDATA.mkdir(parents=True, exist_ok=True)

    # Linear models: native LinearClassifier / LinearRegressor.
    x, y = binary_data(1, 3000)
    lr = LogisticRegression(max_iter=1000).fit(x[:2500], y[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    write_case("logistic", skl(lr, x), xt, lr.predict_proba(xt)[:, 1], "probability")

    # StandardScaler + LogisticRegression: skl2onnx writes Scaler + LinearClassifier.
    x, y = binary_data(11, 3000)
    x[:, 1] *= 100.0
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x[:2500], y[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    write_case("scaler_logistic", skl(pipe, x), xt, pipe.predict_proba(xt)[:, 1], "probability")

    # Three classes: one coefficient row per class and SOFTMAX; the score is class 2.
    x, _ = binary_data(12, 3000)
    y3 = np.digitize(x[:, 0] + 0.5 * x[:, 3], [-0.5, 0.5])
    lr3 = LogisticRegression(max_iter=1000).fit(x[:2500], y3[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    write_case("logistic_3class", skl(lr3, x), xt, lr3.predict_proba(xt)[:, 2], "probability", cls=2)

    # ZipMap output (the skl2onnx default): refused with a hint, no JSON case.
    zipmap = to_onnx(lr, x[:1], target_opset=SKL_OPSET)
    reproducible(zipmap, "zipmap")
    (TESTDATA / "zipmap.onnx").write_bytes(zipmap.SerializeToString())

    x, y = regression_data(2, 3000)
    ridge = Ridge(alpha=1.0).fit(x[:2500], y[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    write_case("linear_reg", skl(ridge, x), xt, ridge.predict(xt), "value")

    # Tree ensembles: native TreeEnsembleClassifier / TreeEnsembleRegressor.
    x, y = binary_data(3, 4000)
    gbdt = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).fit(x[:3500], y[:3500])
    xt = x[3500:3500 + N_TEST_ROWS]
    write_case("gbdt_100", skl(gbdt, x), xt, gbdt.predict_proba(xt)[:, 1], "probability")

    rfc = RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0, n_jobs=1).fit(x[:3500], y[:3500])
    write_case("rf_clf", skl(rfc, x), xt, rfc.predict_proba(xt)[:, 1], "probability",
               note="RandomForestClassifier: two weight columns")

    # LightGBM learns a direction for missing values when training data has NaN.
    x, y = binary_data(4, 4000, nan_share=0.03)
    lgbm = LGBMClassifier(n_estimators=100, num_leaves=15, learning_rate=0.05, random_state=0, n_jobs=1,
                          deterministic=True, verbose=-1).fit(x[:3500], y[:3500])
    xt = x[3500:3500 + N_TEST_ROWS]
    m = convert_lightgbm(lgbm, initial_types=[("input", MltFloat([None, x.shape[1]]))], zipmap=False,
                         target_opset=MLT_OPSET)
    write_case("lgbm_100", m, xt, lgbm.predict_proba(xt)[:, 1], "probability")

    x, y = regression_data(5, 3000, nan_share=0.03)
    lgbr = LGBMRegressor(n_estimators=60, num_leaves=15, random_state=0, n_jobs=1, deterministic=True,
                         verbose=-1).fit(x[:2500], y[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    m = convert_lightgbm(lgbr, initial_types=[("input", MltFloat([None, x.shape[1]]))], target_opset=MLT_OPSET)
    write_case("lgbm_reg", m, xt, lgbr.predict(xt), "value")

    x, y = regression_data(6, 3000)
    rfr = RandomForestRegressor(n_estimators=20, max_depth=6, random_state=0, n_jobs=1).fit(x[:2500], y[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    write_case("rf_reg", skl(rfr, x), xt, rfr.predict(xt), "value")

    if xgboost is not None:
        x, y = binary_data(7, 4000, nan_share=0.03)
        xgb = xgboost.XGBClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=0, n_jobs=1,
                                    tree_method="exact").fit(x[:3500], y[:3500])
        xt = x[3500:3500 + N_TEST_ROWS]
        m = convert_xgboost(xgb, initial_types=[("input", MltFloat([None, x.shape[1]]))], target_opset=MLT_OPSET)
        write_case("xgb_100", m, xt, xgb.predict_proba(xt)[:, 1], "probability",
                   note="XGBoost: one-element base_values, BRANCH_LT nodes")
    else:
        print("xgboost not installed: xgb_100 skipped")

    # A general graph (MatMul, Relu, Sigmoid, Concat; the label branch has ArrayFeatureExtractor): tract.
    x, y = binary_data(8, 3000)
    mlp = MLPClassifier(hidden_layer_sizes=(16,), max_iter=400, random_state=0).fit(x[:2500], y[:2500])
    xt = x[2500:2500 + N_TEST_ROWS]
    write_case("mlp", skl(mlp, x), xt, mlp.predict_proba(xt)[:, 1], "probability")

    handmade()
    telecom()


def handmade() -> None:
    """Graphs no converter writes but the ONNX-ML spec allows; onnxruntime gives the reference."""
    grid = [-1.0, 0.5, 1.0, 2.0, np.nan]
    x = f32([[a, b, c] for a in grid for b in grid for c in grid])
    tree_nodes = dict(  # 3 trees over 3 inputs, every branch mode, NaN routing both ways
        nodes_treeids=[0] * 5 + [1] * 5 + [2] * 5,
        nodes_nodeids=[0, 1, 2, 3, 4] * 3,
        nodes_featureids=[0, 0, 1, 0, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0],
        nodes_modes=["BRANCH_LT", "LEAF", "BRANCH_GTE", "LEAF", "LEAF",
                     "BRANCH_GT", "LEAF", "BRANCH_EQ", "LEAF", "LEAF",
                     "BRANCH_NEQ", "LEAF", "BRANCH_LEQ", "LEAF", "LEAF"],
        nodes_values=[0.5, 0, 1.0, 0, 0, 0.0, 0, 1.0, 0, 0, 2.0, 0, -1.0, 0, 0],
        nodes_truenodeids=[1, 0, 3, 0, 0] * 3,
        nodes_falsenodeids=[2, 0, 4, 0, 0] * 3,
        nodes_missing_value_tracks_true=[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 0],
    )
    leaves = [(0, 1), (0, 3), (0, 4), (1, 1), (1, 3), (1, 4), (2, 1), (2, 3), (2, 4)]
    values = [1.0, 2.0, -1.0, 0.5, 3.0, -2.0, 1.5, 0.25, 4.0]

    def graph(node, n_out, extra_nodes=(), initializers=(), out="score"):
        g = helper.make_graph([*extra_nodes, node], "handmade", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 3])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, [None, n_out])], list(initializers))
        return helper.make_model(g, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("ai.onnx.ml", 3)],
                                 ir_version=8)

    for aggregate in ["AVERAGE", "MIN", "MAX"]:
        node = helper.make_node("TreeEnsembleRegressor", ["x"], ["score"], domain="ai.onnx.ml", n_targets=1,
                                aggregate_function=aggregate, base_values=[0.5], post_transform="NONE",
                                target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                                target_ids=[0] * len(leaves), target_weights=values, **tree_nodes)
        write_case(f"handmade_reg_{aggregate.lower()}", graph(node, 1), x, None, "value",
                   note=f"hand-built TreeEnsembleRegressor, aggregate {aggregate}; expected = onnxruntime")

    # Three classes with string labels, per-class leaf weights, base values and SOFTMAX, behind a
    # Scaler and followed by a Normalizer and a Mul by a constant: the score is class 2.
    class_leaves = [(t, n, c) for t, n in leaves for c in range(3)]
    rng = np.random.default_rng(9)
    weights = [float(v) for v in np.round(rng.normal(size=len(class_leaves)), 3)]
    node = helper.make_node("TreeEnsembleClassifier", ["scaled"], ["label", "proba"], domain="ai.onnx.ml",
                            classlabels_strings=["low", "mid", "high"], base_values=[0.1, -0.2, 0.3],
                            post_transform="SOFTMAX", class_treeids=[t for t, _, _ in class_leaves],
                            class_nodeids=[n for _, n, _ in class_leaves], class_ids=[c for _, _, c in class_leaves],
                            class_weights=weights, **tree_nodes)
    scaler = helper.make_node("Scaler", ["x"], ["scaled"], domain="ai.onnx.ml", offset=[1.0, 0.0, -1.0],
                              scale=[2.0, 1.0, 0.5])
    norm = helper.make_node("Normalizer", ["proba"], ["normed"], domain="ai.onnx.ml", norm="L1")
    mul = helper.make_node("Mul", ["normed", "half"], ["score"])
    half = helper.make_tensor("half", TensorProto.FLOAT, [], [0.5])
    m = graph(node, 3, [scaler], [half])
    m.graph.node.extend([norm, mul])
    m.graph.output.insert(0, helper.make_tensor_value_info("label", TensorProto.STRING, [None]))
    write_case("handmade_clf_softmax", m, x, None, "probability", cls=2,
               note="hand-built 3-class TreeEnsembleClassifier behind a Scaler, then Normalizer and Mul; "
                    "expected = onnxruntime")

    # LinearClassifier with a single coefficient row for two classes: onnxruntime writes [1-s, s].
    node = helper.make_node("LinearClassifier", ["x"], ["label", "score"], domain="ai.onnx.ml",
                            classlabels_ints=[0, 1], coefficients=[0.1, -0.2, 0.05], intercepts=[0.3],
                            post_transform="NONE")
    xl = x[~np.isnan(x).any(axis=1)]
    write_case("handmade_linear_single_row", graph(node, 2), xl, None, "probability",
               note="hand-built LinearClassifier with one coefficient row; expected = onnxruntime")


TELECOM_INPUTS = ["active_services", "monthly_contract_value", "employees", "pricing_views_30d",
                  "email_clicks_30d", "webinars_90d"]


def telecom_rows(rng, n: int) -> np.ndarray:
    """Synthetic B2B telecom customers, columns in TELECOM_INPUTS order."""
    active = rng.choice(6, size=n, p=[0.08, 0.32, 0.28, 0.16, 0.10, 0.06])
    value = np.clip(active * rng.gamma(2.0, 220.0, size=n), 0, 5000)
    employees = np.clip(np.round(rng.lognormal(3.6, 1.5, size=n)), 0, 5000)
    engaged = rng.uniform(size=n) < 0.35  # a third of customers is actively researching
    pricing = np.clip(rng.poisson(np.where(engaged, 3.5, 0.4)), 0, 10)
    clicks = np.clip(rng.poisson(np.where(engaged, 2.5, 0.5)), 0, 10)
    webinars = np.clip(rng.poisson(np.where(engaged, 0.8, 0.08)), 0, 3)
    return f32(np.column_stack([active, np.round(value, 2), employees, pricing, clicks, webinars]))


def telecom_logit(x: np.ndarray) -> np.ndarray:
    active, value, employees, pricing, clicks, webinars = x.T
    return (-2.9 + 0.34 * pricing + 0.22 * clicks + 0.55 * webinars + 0.7 * (employees >= 50)
            + 0.6 * ((active >= 1) & (active <= 2)) + 0.00005 * value)


def telecom() -> None:
    """The propensity model of the reference use case `telecom-cross-sell`."""
    rng = np.random.default_rng(42)
    x = telecom_rows(rng, 30000)
    y = (rng.uniform(size=len(x)) < 1 / (1 + np.exp(-telecom_logit(x)))).astype(np.int64)
    gb = GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.1, random_state=0).fit(x, y)
    model = to_onnx(gb, x[:1], target_opset=SKL_OPSET, options={id(gb): {"zipmap": False}})
    model.graph.input[0].name = "features"
    for node in model.graph.node:
        node.input[:] = ["features" if i == "X" else i for i in node.input]
    model.doc_string = "telecom-cross-sell propensity; inputs in order: " + ", ".join(TELECOM_INPUTS)
    xt = telecom_rows(np.random.default_rng(43), N_TEST_ROWS)
    write_case("telecom_cross_sell", model, xt, gb.predict_proba(xt)[:, 1], "probability", path=TELECOM,
               note="inputs: " + ", ".join(TELECOM_INPUTS))

    sample = telecom_rows(np.random.default_rng(44), 20000)
    p = gb.predict_proba(sample)[:, 1]
    engaged = (sample[:, 3] >= 3) | (sample[:, 5] >= 1)
    rule = sample[:, 0] >= 1
    bands = [(0, 0.05), (0.05, 0.3), (0.3, 0.4), (0.4, 0.7), (0.7, 1.01)]
    print("telecom-cross-sell score distribution (customers with active_services >= 1):")
    for lo, hi in bands:
        share = np.mean((p[rule] >= lo) & (p[rule] < hi))
        share_engaged = np.mean((p[rule & engaged] >= lo) & (p[rule & engaged] < hi))
        print(f"  [{lo:.2f}, {min(hi, 1):.2f}): all {share:6.1%}   engaged {share_engaged:6.1%}")
    digest = hashlib.sha256(TELECOM.read_bytes()).hexdigest()
    print(f"inputs: {', '.join(TELECOM_INPUTS)}")
    print(f"sha256 {digest}  {TELECOM.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
