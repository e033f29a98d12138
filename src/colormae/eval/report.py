"""One printed line per evaluation result, the same for every classification job."""

from __future__ import annotations

from typing import Any

#: Result keys shown, in order, with their printed names.
_SHOWN = (("top1", "top1"), ("top5", "top5"), ("balanced_acc", "balanced"), ("ema_top1", "EMA top1"),
          ("mAP_macro", "mAP"), ("mAP_micro", "mAP micro"), ("f1_macro", "F1"), ("f1_micro", "F1 micro"),
          ("r2", "R2"), ("mse", "MSE"), ("mae", "MAE"))


def summary_line(res: dict[str, Any]) -> str:
    """``"<what> on <data>: top1 91.50  top5 99.90  balanced 91.40"`` from a results dict."""
    what = {"linprobe": f"linear probe ({res.get('feature')})",
            "knn": f"k-NN (k={res.get('k')}, T={res.get('temperature')}, {res.get('feature')})",
            "finetune": f"fine-tuned {res.get('steps')} steps"}.get(res.get("eval", ""), res.get("eval", ""))
    numbers = "  ".join(f"{label} {float(res[key]):.2f}" for key, label in _SHOWN if res.get(key) is not None)
    return f"{what} on {res.get('data')}: {numbers}"
