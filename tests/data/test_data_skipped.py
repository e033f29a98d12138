"""Unreadable images: one exact total over DataLoader worker processes, in FitResult and metrics.jsonl."""

import json

import numpy as np
from PIL import Image
from torch.utils.data import DataLoader

from colormae.data import SafeImageFolder, skipped_total


def _folder_with_bad_files(root, n=84):
    """``n`` PNGs of which 2 are not images at all (caught by the header scan) and 2 are truncated after
    a valid header (found only when decoded, i.e. inside a DataLoader worker)."""
    rng = np.random.default_rng(0)
    for i in range(n):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(rng.integers(0, 256, (36, 36, 3), dtype=np.uint8))
        image.save(root / f"c{i % 2}" / f"{i:02d}.png")
    for i in (3, 50):
        (root / f"c{i % 2}" / f"{i:02d}.png").write_bytes(b"garbage, not a png")
    for i in (10, 71):
        path = root / f"c{i % 2}" / f"{i:02d}.png"
        path.write_bytes(path.read_bytes()[:300])
    return root


def test_skips_made_in_worker_processes_are_all_counted(tmp_path, capsys):
    ds = SafeImageFolder(_folder_with_bad_files(tmp_path))
    assert len(ds) == 82 and ds.skipped == 2  # the header scan
    assert "skipped 2 unreadable image(s) of 84" in capsys.readouterr().err
    loader = DataLoader(ds, batch_size=8, num_workers=2)
    for _ in range(2):  # two epochs: a bad file is counted once
        assert sum(len(b[0]) for b in loader) == 82
    assert ds.skipped == 4 and skipped_total(ds) == 4


def test_pretrain_reports_the_total(tmp_path, capsys):
    from colormae.cli import main

    data = _folder_with_bad_files(tmp_path / "data")
    code = main(["pretrain", "--out", str(tmp_path / "run"), "--device", "cpu", "--no-progress",
                 "model=mae_vit_micro_32px", f"data={data}", "masking=random", "epochs=2", "batch_size=16",
                 "num_workers=2", "log_every=1", "warmup_epochs=0"])
    assert code == 0
    final = capsys.readouterr().out.strip().splitlines()[-1]
    assert final.startswith("done: 10 steps") and "4 unreadable images skipped" in final
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last == {"step": 10, "skipped_images": 4}
