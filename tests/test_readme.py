"""The README's Python example runs as written (docs that drift are bugs)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README lost its Python example"
    scope: dict = {}
    exec(compile(blocks[0], str(README), "exec"), scope)  # noqa: S102 - our own README
    mask, out = scope["mask"], scope["out"]
    assert mask.shape == (8, 64) and mask.dtype.is_floating_point is False
    assert int(mask.sum(1).unique()) == 64 - int(64 * 0.25)  # exact masked count per row
    assert out.loss.grad_fn is not None and scope["bank"].patterns.shape == (512, 256, 256)
