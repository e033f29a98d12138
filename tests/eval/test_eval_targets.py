"""Multi-label and regression targets: the metrics equal scikit-learn's, on the very scores the jobs save;
the heads learn; k-NN scores are the neighbours' vote shares."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import (
    average_precision_score,
    f1_score,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
)
from two_ranks import as_two_ranks

from colormae.config import load_config
from colormae.eval.targets import TargetTask, load_scores, multilabel_metrics, regression_metrics
from colormae.jobs.probes import KnnConfig, LinprobeConfig
from colormae.train.knn import knn_votes

MICRO = "random:mae_vit_micro_32px"


def _sklearn_multilabel(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    keep = truth.sum(axis=0) > 0
    pred = (scores >= 0.5).astype(int)
    return {"mAP_macro": average_precision_score(truth[:, keep], scores[:, keep], average="macro"),
            "mAP_micro": average_precision_score(truth, scores, average="micro"),
            "f1_macro": f1_score(truth[:, keep], pred[:, keep], average="macro", zero_division=0),
            "f1_micro": f1_score(truth, pred, average="micro", zero_division=0)}


def _assert_matches_sklearn(res: dict, scores: np.ndarray, truth: np.ndarray) -> None:
    for key, value in _sklearn_multilabel(scores, truth).items():
        assert abs(res[key] / 100 - value) < 1e-6, key
    for j, name in enumerate(res["per_class_ap"]):
        if truth[:, j].any():
            want = average_precision_score(truth[:, j], scores[:, j])
            assert abs(res["per_class_ap"][name] / 100 - want) < 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_multilabel_metrics_equal_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    n, c = 97, 5
    truth = (rng.random((n, c)) < rng.uniform(0.1, 0.6, c)).astype(np.float32)
    truth[0] = 1  # every class has a positive
    scores = np.round(rng.random((n, c)) * 0.6 + 0.4 * truth, 1).astype(np.float32)  # many tied scores
    res = multilabel_metrics(torch.from_numpy(scores), torch.from_numpy(truth), list("abcde"))
    _assert_matches_sklearn(res, scores, truth)
    assert "warning" not in res
    assert abs(res["chance_mAP_macro"] / 100 - truth.mean(axis=0).mean()) < 1e-6


def test_a_class_without_validation_positives_is_left_out_of_the_macro_means():
    rng = np.random.default_rng(0)
    truth = (rng.random((40, 3)) < 0.4).astype(np.float32)
    truth[:, 1] = 0
    truth[0] = [1, 0, 1]
    scores = rng.random((40, 3)).astype(np.float32)
    res = multilabel_metrics(torch.from_numpy(scores), torch.from_numpy(truth), ["x", "y", "z"])
    assert res["per_class_ap"]["y"] is None
    assert "1 class(es) without a positive validation image (y)" in res["warning"]
    _assert_matches_sklearn(res, scores, truth)


def test_regression_metrics_equal_sklearn():
    rng = np.random.default_rng(1)
    truth, pred = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    res = regression_metrics(torch.from_numpy(pred), torch.from_numpy(truth), ["u", "v", "w"])
    assert abs(res["mse"] - mean_squared_error(truth, pred)) < 1e-9
    assert abs(res["mae"] - mean_absolute_error(truth, pred)) < 1e-9
    assert abs(res["r2"] - r2_score(truth, pred)) < 1e-9
    assert abs(res["per_target"]["v"]["r2"] - r2_score(truth[:, 1], pred[:, 1])) < 1e-9


def test_soft_knn_votes_are_the_weighted_share_of_the_neighbours():
    gen = torch.Generator().manual_seed(0)
    train, test = torch.randn(30, 8, generator=gen), torch.randn(7, 8, generator=gen)
    rows = (torch.rand(30, 4, generator=gen) < 0.5).float()
    got = knn_votes(train, rows, test, num_classes=4, k=5, temperature=0.1, chunk_size=3)
    a, b = torch.nn.functional.normalize(test, dim=1), torch.nn.functional.normalize(train, dim=1)
    sim, idx = (a @ b.T).topk(5, dim=1)
    w = (sim / 0.1).exp()
    want = torch.stack([(w[i, :, None] * rows[idx[i]]).sum(0) / w[i].sum() for i in range(7)])
    assert torch.allclose(got, want, atol=1e-6) and float(got.min()) >= 0 and float(got.max()) <= 1
    # one-hot rows give the single-label votes divided by the total weight
    labels = torch.randint(0, 4, (30,), generator=gen)
    hard = knn_votes(train, labels, test, num_classes=4, k=5, temperature=0.1)
    soft = knn_votes(train, torch.nn.functional.one_hot(labels, 4).float(), test, num_classes=4, k=5,
                     temperature=0.1)
    assert torch.allclose(soft, hard / hard.sum(1, keepdim=True), atol=1e-6)


def test_target_task_losses_and_scores():
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    task = TargetTask.fit("multilabel", ["a", "b"], y, smoothing=0.2)
    out = torch.tensor([[2.0, -1.0], [0.5, 0.0]])
    want = torch.nn.functional.binary_cross_entropy_with_logits(out, y * 0.8 + 0.1)
    assert torch.allclose(task.loss(out, y), want) and torch.allclose(task.scores(out), torch.sigmoid(out))
    reg = TargetTask.fit("regression", ["t"], torch.tensor([[1.0], [3.0]]))
    assert reg.mean.tolist() == [2.0] and reg.std.tolist() == [1.0]
    assert torch.allclose(reg.scores(torch.tensor([[0.5]])), torch.tensor([[2.5]]))
    assert float(reg.loss(torch.tensor([[0.0], [1.0]]), torch.tensor([[1.0], [3.0]]))) == pytest.approx(0.5)


# --- the jobs, end to end ------------------------------------------------------------------------------

def _colour_set(root: Path, n_train: int = 24, n_val: int = 16) -> Path:
    """32 px images with red and / or blue squares: labels {red, blue} (both, one or neither: column form),
    and a number (the red square's brightness) for regression. Writes labels.csv and numbers.csv."""
    rng = np.random.default_rng(0)
    lines, numbers = ["path,red,blue,split"], ["path,brightness,split"]
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            red, blue = i % 2, (i // 2) % 2
            if split == "val" and i < 2:
                red, blue = 1, 1
            arr = rng.integers(0, 60, (32, 32, 3)).astype(np.float64)
            level = rng.uniform(120, 255)
            if red:
                arr[4:20, 4:20, 0] = level
            if blue:
                arr[12:28, 12:28, 2] = 220
            name = f"{split}/{i}.png"
            (root / split).mkdir(parents=True, exist_ok=True)
            Image.fromarray(arr.astype(np.uint8)).save(root / name)
            lines.append(f"{name},{red},{blue},{split}")
            numbers.append(f"{name},{level if red else 0.0:.3f},{split}")
    (root / "labels.csv").write_text("\n".join(lines) + "\n")
    (root / "numbers.csv").write_text("\n".join(numbers) + "\n")
    return root


@pytest.fixture(scope="module")
def colours(tmp_path_factory):
    return _colour_set(tmp_path_factory.mktemp("colours"))


def _saved(out: Path, name: str) -> tuple[dict, dict]:
    res = json.loads((out / f"{name}.json").read_text())
    return res, load_scores(out / res["scores_file"])


def test_linprobe_and_knn_report_sklearns_map_on_the_scores_they_save(colours, tmp_path):
    from colormae.eval.probes import knn, linprobe

    common = {"ckpt": MICRO, "data": str(colours), "labels": str(colours / "labels.csv"), "num_workers": 0,
              "progress": False, "batch_size": 16, "out": str(tmp_path), "feature": "mean"}
    linprobe(load_config(LinprobeConfig, values={**common, "epochs": 30, "warmup_epochs": 2, "lr": 0.5}))
    knn(load_config(KnnConfig, values={**common, "k": 5}))
    for name in ("linprobe", "knn"):
        res, saved = _saved(tmp_path, name)
        assert res["task"] == "multilabel" and res["classes"] == ["red", "blue"] == saved["names"]
        assert res["train_size"] == 24 and res["val_size"] == 16 and "top1" not in res
        scores, truth = saved["scores"].numpy(), saved["targets"].numpy()
        assert scores.shape == truth.shape == (16, 2) and len(saved["paths"]) == 16
        assert saved["paths"][0].endswith("val/0.png") and truth[0].tolist() == [1.0, 1.0]
        _assert_matches_sklearn(res, scores, truth)
        assert res["mAP_macro"] > res["chance_mAP_macro"] + 25, name
    assert json.loads((tmp_path / "linprobe.json").read_text())["history"][-1]["mAP_macro"] is not None


def test_linprobe_regression_reports_sklearns_r2_on_its_saved_predictions(colours, tmp_path):
    from colormae.eval.probes import linprobe

    cfg = load_config(LinprobeConfig, values={
        "ckpt": MICRO, "data": str(colours), "labels": str(colours / "numbers.csv"), "num_workers": 0,
        "progress": False, "batch_size": 16, "out": str(tmp_path), "epochs": 40, "warmup_epochs": 2,
        "feature": "mean"})
    res = linprobe(cfg)
    saved = load_scores(tmp_path / res["scores_file"])
    pred, truth = saved["scores"].double().numpy(), saved["targets"].double().numpy()
    assert res["task"] == "regression" and res["classes"] == ["brightness"]
    assert abs(res["r2"] - r2_score(truth, pred)) < 1e-6
    assert res["mse"] == pytest.approx(mean_squared_error(truth, pred), rel=1e-9)
    assert res["r2"] > 0.5  # the constant prediction (the training mean) scores about 0


def test_finetune_multilabel_saves_scores_and_refuses_mixup(colours, tmp_path):
    from colormae.errors import UserError
    from colormae.eval.finetune import finetune
    from colormae.jobs.finetune import FinetuneConfig
    from colormae.train.checkpoint import load_checkpoint

    values = {"ckpt": MICRO, "data": str(colours), "labels": str(colours / "labels.csv"), "epochs": 2,
              "batch_size": 8, "num_workers": 0, "progress": False, "seed": 0, "out": str(tmp_path / "ft")}
    res = finetune(load_config(FinetuneConfig, values=values))
    saved = load_scores(tmp_path / "ft" / res["scores_file"])
    _assert_matches_sklearn(res, saved["scores"].numpy(), saved["targets"].numpy())
    assert res["task"] == "multilabel" and res["steps"] == 6 and "top1" not in res
    lines = [json.loads(x) for x in (tmp_path / "ft" / "eval.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2] and all("mAP_macro" in x for x in lines)
    ckpt = load_checkpoint(tmp_path / "ft")
    assert ckpt["targets"]["task"] == "multilabel" and ckpt["model_config"]["num_classes"] == 2
    with pytest.raises(UserError, match="mixup=0.8: mixing is for one class an image"):
        finetune(load_config(FinetuneConfig, values={**values, "mixup": 0.8, "out": str(tmp_path / "mix")}))


def test_mnist_multilabel_linprobe_beats_the_class_prevalences(tmp_path):
    """Two labels per digit, {odd, greater than 4}, from mnist5k: the probe's mAP beats the chance mAP (the
    mean prevalence, what uninformed scores get) by a wide margin."""
    from colormae.data import MNIST5k
    from colormae.data.subset import evenly_spaced
    from colormae.eval.probes import linprobe

    lines = ["path,odd,big,split"]
    for split, n in (("train", 400), ("val", 200)):
        ds = MNIST5k(split, transform=lambda im: im)
        (tmp_path / split).mkdir()
        for i in evenly_spaced(len(ds), n):
            image, digit = ds[i]
            image.save(tmp_path / split / f"{i}.png")
            lines.append(f"{split}/{i}.png,{digit % 2},{int(digit > 4)},{split}")
    (tmp_path / "labels.csv").write_text("\n".join(lines) + "\n")
    res = linprobe(load_config(LinprobeConfig, values={
        "ckpt": MICRO, "data": str(tmp_path), "labels": str(tmp_path / "labels.csv"), "num_workers": 0,
        "progress": False, "batch_size": 64, "epochs": 30, "warmup_epochs": 3, "lr": 0.3, "feature": "mean"}))
    assert res["chance_mAP_macro"] == pytest.approx(50.0, abs=3)
    assert res["mAP_macro"] > res["chance_mAP_macro"] + 15 and res["mAP_micro"] > 65  # measured: 77.9, 79.5


@pytest.mark.parametrize("command", ["linprobe", "knn", "finetune"])
def test_a_bad_label_file_is_one_error_line_from_every_command(command, colours, tmp_path, capsys):
    from colormae.cli import main

    bad = tmp_path / "bad.csv"
    bad.write_text("path,labels,split\ntrain/0.png,cat,train\nval/0.png,cow,val\n")
    argv = [command, MICRO, "--data", str(colours), f"labels={bad}", "num_workers=0", "--no-progress"]
    if command == "finetune":
        argv += ["--out", str(tmp_path / "run")]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {bad} line 3: unknown class 'cow': it is in no training row"]
    assert not (tmp_path / "run").exists()


def test_label_settings_without_a_label_file_are_refused(tiny_folder):
    from colormae.errors import UserError
    from colormae.eval.probes import knn

    with pytest.raises(UserError, match="task=regression needs labels=FILE"):
        knn(load_config(KnnConfig, values={"ckpt": MICRO, "data": str(tiny_folder), "task": "regression",
                                           "num_workers": 0, "progress": False}))


def test_a_diverging_probe_is_one_line_naming_the_lr():
    from colormae.errors import UserError
    from colormae.eval.linprobe import train_linear_probe

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 32, generator=gen) @ torch.randn(32, 32, generator=gen)
    y = x[:, :1] * 100
    task = TargetTask.fit("regression", ["t"], y)
    message = r"linear probe: the training loss is (inf|nan) in epoch \d+; lower lr \(it was 100\)"
    with pytest.raises(UserError, match=message):
        train_linear_probe((x, y), (x, y), num_classes=1, epochs=20, batch_size=16, lr=100.0, warmup_epochs=0,
                           task=task, progress=False)


def test_finetune_regression_reports_sklearns_r2_on_its_saved_predictions(colours, tmp_path):
    from colormae.eval.finetune import finetune
    from colormae.jobs.finetune import FinetuneConfig
    from colormae.train.checkpoint import load_checkpoint

    res = finetune(load_config(FinetuneConfig, values={
        "ckpt": MICRO, "data": str(colours), "labels": str(colours / "numbers.csv"), "epochs": 1,
        "batch_size": 8, "num_workers": 0, "progress": False, "out": str(tmp_path)}))
    saved = load_scores(tmp_path / res["scores_file"])
    pred, truth = saved["scores"].double().numpy(), saved["targets"].double().numpy()
    assert res["task"] == "regression" and abs(res["r2"] - r2_score(truth, pred)) < 1e-6
    assert res["mae"] == pytest.approx(mean_absolute_error(truth, pred), rel=1e-9)
    stats = load_checkpoint(tmp_path)["targets"]  # what maps the head's outputs back to the targets' units
    rows = (colours / "numbers.csv").read_text().splitlines()[1:25]  # the 24 training rows
    train = np.array([float(x.split(",")[1]) for x in rows])
    assert stats["task"] == "regression" and stats["mean"] == pytest.approx([train.mean()], rel=1e-5)


def test_the_printed_line_shows_the_map(colours, capsys):
    from colormae.cli import main

    assert main(["knn", MICRO, "--data", str(colours), f"labels={colours / 'labels.csv'}", "num_workers=0",
                 "k=5", "--no-progress"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("k-NN (k=5, T=0.07, cls) on ") and "  mAP " in line and "  F1 micro " in line


def test_evaluate_targets_under_two_ranks_equals_one_process(colours, monkeypatch):
    """Two simulated ranks (two_ranks.as_two_ranks): each scores its shard
    and every rank ends with the one-process scores, in data-set order."""
    import colormae.eval.features as F
    import colormae.ranks as R
    from colormae.data import eval_transform
    from colormae.data.labelled import LabelledImages
    from colormae.data.labels import read_labels
    from colormae.eval.targets import evaluate_targets

    class Mean(torch.nn.Module):
        def forward(self, x):
            return x.mean(dim=(2, 3))[:, [0, 2]] * 4 - 2  # (B, 2) logits from the red and blue means

    table = read_labels(colours / "labels.csv")
    val = LabelledImages(table, "val", eval_transform(32))
    task = TargetTask.fit("multilabel", table.names, table.train.targets)
    metrics, scores, rows = as_two_ranks(monkeypatch, (F, R), lambda: evaluate_targets(
        Mean(), val, task, batch_size=3))
    ref_metrics, ref_scores, ref_rows = evaluate_targets(Mean(), val, task, batch_size=5)
    assert torch.equal(rows, torch.arange(16)) and torch.equal(ref_rows, rows)
    torch.testing.assert_close(scores, ref_scores)
    assert metrics["mAP_macro"] == pytest.approx(ref_metrics["mAP_macro"], abs=1e-9)
