"""Fits scikit-learn's counterparts of anomalog's detectors on the same feature matrices and
prints one comparison table (run through bench/compare_sklearn.sh, which prepares the inputs).

    compare_sklearn.py --dataset NAME TRAIN.csv TEST.csv ANOMALOG.jsonl [--dataset ...]
                       [--runs 5] [--threads 2] [--seed 1] [--json OUT.json]
                       [--seeds N --matrix-bench PATH]

TRAIN.csv and TEST.csv are `anomalog features --scaled -o csv` output (columns: line, the
features..., label, category); TEST.csv must have labels. ANOMALOG.jsonl is the output of the
`matrix_bench` example on the same two files: one object per detector with its fit time,
median scoring time and the path of its test scores.

Every ROC-AUC and PR-AUC (average precision), anomalog's included, is computed here with
sklearn.metrics, so both sides go through the same metric code. Timing protocol, same on both
sides: fit once (timed), score the test matrix once untimed (these scores are evaluated), then
score it --runs more times and report the median.

The scikit-learn models mirror anomalog's defaults (the model, not the optimizer):
  IsolationForest     100 trees, 256 rows per tree, n_jobs=threads
  Nystroem+SGDOneClassSVM  standardize, RBF gamma = 1/n_features, 128 components, nu = 0.1,
                      fit on at most 20,000 random rows; SGD at scikit-learn's defaults
  MLPRegressor autoencoder  standardize, tanh layers (ceil(2d/3), ceil(d/3), ceil(2d/3)),
                      Adam lr 1e-3, batch 64, at most 40 epochs, early stopping (10%
                      validation, patience 5), fit on at most 10,000 random rows; the score is
                      the mean squared reconstruction error in standardized units
Missing values (empty CSV fields) are replaced by the training column's median, as anomalog
does.

With --seeds N (and --matrix-bench, the example's binary), the Isolation Forest of both sides
is also fitted with seeds 1..N on every dataset, and the mean, standard deviation and range
of the ROC-AUC are printed: one seed's forest varies by about 0.01 on CSIC 2010, more than
the accuracy target.
"""

import argparse
import csv
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np
import sklearn
from sklearn.ensemble import IsolationForest
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

# anomalog detector -> its scikit-learn counterpart in the table.
PAIRS = {"iforest": "IsolationForest", "ocsvm": "Nystroem+SGDOneClassSVM", "autoencoder": "MLP autoencoder"}
MIN_SPEEDUP = 10.0
MAX_ROC_DEFICIT = 0.01
IFOREST_MIN_ROWS_PER_S = 2e6


def read_matrix(path):
    """Feature matrix, labels (or None) and feature names of an `anomalog features` CSV."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        if not header or header[0] != "line":
            sys.exit(f"{path}: first column is not `line`")
        end = header.index("label") if "label" in header else len(header)
        rows, labels = [], []
        for rec in reader:
            rows.append([float(v) if v else math.nan for v in rec[1:end]])
            if end < len(header):
                labels.append(int(rec[end]))
    x = np.asarray(rows, dtype=np.float64).reshape(len(rows), end - 1)
    return x, (np.asarray(labels) if labels else None), header[1:end]


def impute(train, test):
    """Replaces non-finite values in both matrices by the training column medians."""
    train = np.where(np.isfinite(train), train, np.nan)
    med = np.nanmedian(train, axis=0) if train.size else np.zeros(train.shape[1])
    med = np.where(np.isfinite(med), med, 0.0)
    fill = lambda m: np.where(np.isfinite(m), m, med)
    return fill(train), fill(test)


def sample_rows(x, cap, seed):
    if len(x) <= cap:
        return x
    idx = np.random.default_rng(seed).choice(len(x), size=cap, replace=False)
    return x[np.sort(idx)]


class Reconstruction:
    """Standardize, then an MLP trained to reproduce its input; score = mean squared error."""

    def __init__(self, d, seed):
        wide, narrow = max(2, math.ceil(2 * d / 3)), max(1, math.ceil(d / 3))
        self.scaler = StandardScaler()
        self.net = MLPRegressor(
            hidden_layer_sizes=(wide, narrow, wide),
            activation="tanh",
            solver="adam",
            learning_rate_init=1e-3,
            batch_size=64,
            max_iter=40,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=5,
            random_state=seed,
        )

    def fit(self, x):
        z = self.scaler.fit_transform(x)
        self.net.fit(z, z)
        return self

    def score(self, x):
        z = self.scaler.transform(x)
        return np.mean((z - self.net.predict(z)) ** 2, axis=1)


def sklearn_models(d, threads, seed):
    """(name, fit(train) -> model, score(model, test) -> higher = more anomalous)."""

    def iforest(x):
        return IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=threads).fit(x)

    def ocsvm(x):
        pipe = make_pipeline(
            StandardScaler(),
            Nystroem(kernel="rbf", gamma=1.0 / d, n_components=128, random_state=seed),
            SGDOneClassSVM(nu=0.1, random_state=seed),
        )
        return pipe.fit(sample_rows(x, 20_000, seed))

    def autoencoder(x):
        return Reconstruction(d, seed).fit(sample_rows(x, 10_000, seed))

    return [
        ("iforest", PAIRS["iforest"], iforest, lambda m, x: -m.score_samples(x)),
        ("ocsvm", PAIRS["ocsvm"], ocsvm, lambda m, x: -m.decision_function(x)),
        ("autoencoder", PAIRS["autoencoder"], autoencoder, lambda m, x: m.score(x)),
    ]


def metrics(y, scores, what):
    scores = np.asarray(scores, dtype=np.float64)
    if len(scores) != len(y):
        sys.exit(f"{what}: {len(scores)} scores for {len(y)} test rows")
    if not np.all(np.isfinite(scores)):
        sys.exit(f"{what}: non-finite scores")
    return roc_auc_score(y, scores), average_precision_score(y, scores)


def run_sklearn(train, test, y, threads, runs, seed):
    out = []
    for pair, name, fit, score in sklearn_models(train.shape[1], threads, seed):
        print(f"compare_sklearn: fitting {name}", file=sys.stderr)
        t0 = time.perf_counter()
        model = fit(train)
        fit_s = time.perf_counter() - t0
        scores = score(model, test)
        wall, cpu = [], []
        for _ in range(runs):
            c0, t0 = time.process_time(), time.perf_counter()
            score(model, test)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        score_s, score_cpu_s = statistics.median(wall), statistics.median(cpu)
        roc, pr = metrics(y, scores, name)
        out.append(dict(pair=pair, impl="scikit-learn", detector=name, fit_s=fit_s, score_s=score_s,
                        score_cpu_s=score_cpu_s, score_rows_per_s=len(test) / score_s,
                        score_rows_per_cpu_s=len(test) / score_cpu_s, roc_auc=roc, pr_auc=pr))
    return out


def run_anomalog(jsonl, y):
    out = []
    with open(jsonl) as f:
        for line in f:
            r = json.loads(line)
            roc, pr = metrics(y, np.loadtxt(r["scores"], ndmin=1), r["detector"])
            cpu_s = r.get("score_cpu_s")
            out.append(dict(pair=r["detector"], impl="anomalog", detector=r["detector"], fit_s=r["fit_s"],
                            score_s=r["score_s"], score_cpu_s=cpu_s, score_rows_per_s=r["score_rows_per_s"],
                            score_rows_per_cpu_s=r["test_rows"] / cpu_s if cpu_s else None, roc_auc=roc,
                            pr_auc=pr, threads=r["threads"]))
    return out


def seed_sweep(name, train_csv, test_csv, train, test, y, seeds, threads, matrix_bench, work):
    """ROC-AUC of each side's Isolation Forest fitted with seeds 1..seeds."""
    ours, theirs = [], []
    for seed in range(1, seeds + 1):
        print(f"compare_sklearn: {name}: Isolation Forests of seed {seed}", file=sys.stderr)
        out = os.path.join(work, f"{name}.seed{seed}")
        subprocess.run([matrix_bench, train_csv, test_csv, out, "--detectors", "iforest", "--runs", "1",
                        "--seed", str(seed)], check=True, stdout=subprocess.DEVNULL)
        ours.append(metrics(y, np.loadtxt(os.path.join(out, "iforest.scores"), ndmin=1), "iforest")[0])
        model = IsolationForest(n_estimators=100, max_samples=256, random_state=seed, n_jobs=threads).fit(train)
        theirs.append(metrics(y, -model.score_samples(test), "IsolationForest")[0])
    return dict(seeds=seeds, anomalog=ours, sklearn=theirs)


def print_sweeps(datasets):
    sweeps = [(ds["name"], ds["seed_sweep"]) for ds in datasets if ds.get("seed_sweep")]
    if not sweeps:
        return
    print()
    print(f"{'dataset':<12} {'Isolation Forest ROC-AUC over seeds':<36} {'mean':>7} {'sd':>7} {'min':>7} {'max':>7}")
    for name, sw in sweeps:
        for impl, key in (("anomalog", "anomalog"), ("scikit-learn", "sklearn")):
            v = sw[key]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            label = f"{impl} (seeds 1-{sw['seeds']})"
            print(f"{name:<12} {label:<36} {statistics.mean(v):>7.4f} {sd:>7.4f} "
                  f"{min(v):>7.4f} {max(v):>7.4f}")
        d = statistics.mean(sw["anomalog"]) - statistics.mean(sw["sklearn"])
        print(f"{name:<12} {'difference of the means':<36} {d:>+7.4f}")


def fmt_rate(r):
    if r is None:
        return "-"
    return f"{r / 1e6:.2f}M" if r >= 1e6 else f"{r / 1e3:.1f}k"


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt_ratio(r):
    return "-" if r is None else f"{r:.1f}x"


def print_table(datasets):
    print()
    print(f"{'dataset':<12} {'detector':<24} {'impl':<12} {'fit s':>8} {'score s':>9} "
          f"{'rows/s':>9} {'rows/cpu-s':>10} {'ROC-AUC':>8} {'PR-AUC':>8}")
    for ds in datasets:
        for r in ds["results"]:
            print(f"{ds['name']:<12} {r['detector']:<24} {r['impl']:<12} {r['fit_s']:>8.3f} "
                  f"{r['score_s']:>9.4f} {fmt_rate(r['score_rows_per_s']):>9} "
                  f"{fmt_rate(r['score_rows_per_cpu_s']):>10} {r['roc_auc']:>8.4f} "
                  f"{r['pr_auc']:>8.4f}")
    print()
    print(f"{'dataset':<12} {'pair':<12} {'score speedup':>13} {'cpu speedup':>11} {'fit speedup':>11} "
          f"{'dROC-AUC':>9} "
          f"{'dPR-AUC':>8}  targets (>= {MIN_SPEEDUP:.0f}x scoring, ROC-AUC >= sklearn - {MAX_ROC_DEFICIT})")
    verdicts = []
    for ds in datasets:
        by = {(r["impl"], r["pair"]): r for r in ds["results"]}
        for pair in PAIRS:
            a, s = by.get(("anomalog", pair)), by.get(("scikit-learn", pair))
            if not (a and s):
                continue
            speed = a["score_rows_per_s"] / s["score_rows_per_s"]
            cpu_speed = ratio(a["score_rows_per_cpu_s"], s["score_rows_per_cpu_s"])
            fit_speed = s["fit_s"] / a["fit_s"] if a["fit_s"] > 0 else math.inf
            droc, dpr = a["roc_auc"] - s["roc_auc"], a["pr_auc"] - s["pr_auc"]
            ok_speed, ok_roc = speed >= MIN_SPEEDUP, droc >= -MAX_ROC_DEFICIT
            note = f"speed {'met' if ok_speed else 'MISSED'}, accuracy {'met' if ok_roc else 'MISSED'}"
            if pair == "iforest":
                ok_rate = a["score_rows_per_s"] >= IFOREST_MIN_ROWS_PER_S
                note += f", {fmt_rate(a['score_rows_per_s'])} rows/s vs 2M {'met' if ok_rate else 'MISSED'}"
                if a["score_rows_per_cpu_s"]:
                    bound = a["score_rows_per_cpu_s"] * a["threads"]
                    note += f" (idle-machine bound {fmt_rate(bound)} = {a['threads']} x rows/cpu-s)"
                sw = ds.get("seed_sweep")
                if sw:
                    d = statistics.mean(sw["anomalog"]) - statistics.mean(sw["sklearn"])
                    note += (f"; ROC-AUC over seeds 1-{sw['seeds']} {d:+.4f}, accuracy "
                             f"{'met' if d >= -MAX_ROC_DEFICIT else 'MISSED'}")
            print(f"{ds['name']:<12} {pair:<12} {speed:>12.1f}x {fmt_ratio(cpu_speed):>11} {fit_speed:>10.1f}x "
                  f"{droc:>+9.4f} {dpr:>+8.4f}  {note}")
            verdicts.append(dict(dataset=ds["name"], pair=pair, score_speedup=speed, cpu_speedup=cpu_speed,
                                 fit_speedup=fit_speed,
                                 d_roc_auc=droc, d_pr_auc=dpr))
    return verdicts


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", nargs=4, action="append", required=True,
                    metavar=("NAME", "TRAIN", "TEST", "ANOMALOG_JSONL"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", help="also write every number to this file")
    ap.add_argument("--seeds", type=int, default=0, help="Isolation Forest ROC-AUC over seeds 1..N")
    ap.add_argument("--matrix-bench", help="the matrix_bench binary, for --seeds")
    args = ap.parse_args()
    if args.seeds and not args.matrix_bench:
        sys.exit("--seeds needs --matrix-bench")

    datasets = []
    with threadpool_limits(limits=args.threads):
        for name, train_csv, test_csv, jsonl in args.dataset:
            train, _, names = read_matrix(train_csv)
            test, y, test_names = read_matrix(test_csv)
            if names != test_names:
                sys.exit(f"{name}: train and test have different feature columns")
            if y is None or len(set(y.tolist())) != 2:
                sys.exit(f"{name}: the test matrix needs labels of both classes")
            train, test = impute(train, test)
            results = run_anomalog(jsonl, y)
            results += run_sklearn(train, test, y, args.threads, args.runs, args.seed)
            order = {p: i for i, p in enumerate(PAIRS)}
            results.sort(key=lambda r: (order.get(r["pair"], len(order)), r["impl"] != "anomalog", r["pair"]))
            sweep = None
            if args.seeds:
                work = os.path.dirname(os.path.abspath(jsonl))
                sweep = seed_sweep(name, train_csv, test_csv, train, test, y, args.seeds, args.threads,
                                   args.matrix_bench, work)
            datasets.append(dict(name=name, seed_sweep=sweep, train_rows=len(train), test_rows=len(test),
                                 features=len(names),
                                 anomalous=int(y.sum()), results=results))
        pools = threadpool_info()

    threads = {r.get("threads") for ds in datasets for r in ds["results"] if r["impl"] == "anomalog"}
    print(f"python {platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
          f"{os.cpu_count()} CPUs, load average {' '.join(f'{l:.1f}' for l in os.getloadavg())}")
    print(f"threads: anomalog rayon {','.join(map(str, sorted(threads)))}; scikit-learn n_jobs={args.threads}, "
          + ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in pools))
    print(f"timing: fit once; score {args.runs} times after one untimed run, median wall time (rows/s) "
          "and median CPU time of all threads (rows/cpu-s; the speed on an idle machine is at most "
          "threads x rows/cpu-s)")
    for ds in datasets:
        print(f"{ds['name']}: train {ds['train_rows']} rows, test {ds['test_rows']} rows "
              f"({ds['anomalous']} anomalous), {ds['features']} features")
    verdicts = print_table(datasets)
    print_sweeps(datasets)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(datasets=datasets, pairs=verdicts), f, indent=1)


if __name__ == "__main__":
    main()
