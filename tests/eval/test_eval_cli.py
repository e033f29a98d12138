"""``colormae linprobe`` / ``knn`` end to end on a tiny ImageFolder, and their user errors."""

import json

import pytest

from colormae.cli import main


def test_knn_and_linprobe_commands_write_json(tmp_path, tiny_folder, capsys):
    out = tmp_path / "eval"
    common = ["random:mae_vit_micro_32px", "--data", str(tiny_folder), "--out", str(out), "--no-progress",
              "--device", "cpu", "--batch-size", "8"]
    assert main(["knn", *common, "--k", "3"]) == 0
    knn = json.loads((out / "knn.json").read_text())
    assert knn["train_size"] == 24 and knn["val_size"] == 12 and knn["k"] == 3
    # flat colours: even random-init features separate red / green / blue with 3 neighbours
    assert knn["top1"] == 100.0
    assert main(["linprobe", *common, "--epochs", "3", "--warmup-epochs", "1", "--feature", "mean"]) == 0
    lp = json.loads((out / "linprobe.json").read_text())
    assert lp["feature"] == "mean" and len(lp["history"]) == 3 and lp["top5"] == 100.0
    assert "top1" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["knn", "random:no_such_preset"], "unknown model"),
    (["knn", "/no/such/ckpt.pt"], "no such checkpoint"),
    (["knn", "random:mae_vit_micro_32px", "--k", "0"], "'k': 0 is below the minimum 1"),
    (["knn"], "CKPT is required"),
    (["knn", "random:mae_vit_micro_32px", "--feature", "max"], "'feature': 'max' is not one of cls, mean"),
])
def test_user_errors_are_one_line(argv, message, capsys, tiny_folder):
    assert main([*argv, "--data", str(tiny_folder), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


def test_folder_without_splits_is_refused(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    assert main(["knn", "random:mae_vit_micro_32px", "--data", str(tmp_path), "--no-progress"]) == 2
    assert "train/ and val/" in capsys.readouterr().err


def test_per_class_results_are_named_by_class(tmp_path, tiny_folder):
    import json

    out = tmp_path / "eval"
    assert main(["knn", "random:mae_vit_micro_32px", "--data", str(tiny_folder), "--out", str(out),
                 "--no-progress", "--k", "3"]) == 0
    knn = json.loads((out / "knn.json").read_text())
    assert set(knn["per_class_acc"]) == {"blue", "green", "red"} and "balanced_acc" in knn
