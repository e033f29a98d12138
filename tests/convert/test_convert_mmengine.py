"""Raw mmengine training checkpoints (``message_hub`` objects, numpy arrays, OrderedDicts) convert without
running pickled code, and pickles whose ``__reduce__`` would run code are refused before anything runs."""

import builtins
import copyreg
import io
import os
import pickle
import subprocess
import sys
import types
from collections import OrderedDict

import numpy as np
import pytest
import torch

from colormae.cli import main
from colormae.convert import import_model
from colormae.convert.layouts import MMPRETRAIN
from colormae.convert.reading import ConversionError, read_source
from colormae.convert.safe_pickle import Opaque, UnsafePickleError
from colormae.convert.safe_pickle import load as safe_load
from colormae.models import create_mae

_FAKE = {"mmengine.logging.message_hub": "MessageHub", "mmengine.logging.history_buffer": "HistoryBuffer",
         "mmengine.config.config": "ConfigDict"}


def _fake_mmengine(monkeypatch):
    """Classes named like mmengine's, importable (for pickling) only while ``monkeypatch`` holds them."""
    classes = {}
    for module_name, class_name in _FAKE.items():
        parts = module_name.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name not in sys.modules:
                monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
        cls = type(class_name, (), {"__module__": module_name})
        setattr(sys.modules[module_name], class_name, cls)
        classes[class_name] = cls
    return classes


def _history_buffer(cls, values):
    buf = cls()
    buf._log_history = np.asarray(values, dtype=np.float64)
    buf._count_history = np.ones(len(values), dtype=np.int64)
    buf.max_length = 1000000
    return buf


def _mmengine_checkpoint(path, model, monkeypatch):
    """What mmengine's ``Runner.save_checkpoint`` writes for an mmpretrain MAE, with stand-in classes."""
    with monkeypatch.context() as m:
        mm = _fake_mmengine(m)
        hub = mm["MessageHub"]()
        hub.instance_name = "mmpretrain"
        hub.log_scalars = OrderedDict(loss=_history_buffer(mm["HistoryBuffer"], [1.2, 0.9, 0.7]))
        hub.runtime_info = OrderedDict(epoch=3, iter=1200, lr=np.float64(1.5e-4), dtype=np.dtype("float32"))
        cfg = mm["ConfigDict"]()
        cfg.__dict__.update(type="MAEPretrainDecoder", decoder_num_heads=4)
        ckpt = {
            "meta": {"epoch": 3, "iter": 1200, "seed": np.int64(0), "mmengine_version": "0.10.3",
                     "cfg": "model = dict(type='MAE', backbone=dict(type='MAEViT', arch='b'), "
                            "neck=dict(type='MAEPretrainDecoder', decoder_embed_dim=32, decoder_depth=1, "
                            "decoder_num_heads=4))"},
            "state_dict": OrderedDict(MMPRETRAIN.from_ours(model.state_dict())),
            "message_hub": {"log_scalars": hub.log_scalars, "runtime_info": hub.runtime_info,
                            "resumed_keys": OrderedDict(epoch=True), "hub": hub, "cfg": cfg},
            "optimizer": {"state": {}, "param_groups": [{"lr": 1.5e-4, "betas": (0.9, 0.95), "params": [0]}]},
        }
        torch.save(ckpt, path)
    assert "mmengine" not in sys.modules and "mmengine.logging.message_hub" not in sys.modules


def test_mmengine_checkpoint_with_message_hub_converts(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    model = create_mae("mae_vit_micro_32px", decoder_num_heads=4).eval()  # 4 heads: no preset has them
    path = tmp_path / "colormae_green_300e.pth"
    _mmengine_checkpoint(path, model, monkeypatch)
    with pytest.raises(pickle.UnpicklingError):  # what torch's safe loader alone says
        torch.load(path, weights_only=True)

    src = read_source(path)
    assert src.wrapper == "state_dict"
    hub = src.raw["message_hub"]["hub"]
    assert isinstance(hub, Opaque) and hub.pickled_name == "mmengine.logging.message_hub.MessageHub"
    buf = hub.state["log_scalars"]["loss"]
    assert buf.pickled_name == "mmengine.logging.history_buffer.HistoryBuffer"
    np.testing.assert_array_equal(buf.state["_log_history"], [1.2, 0.9, 0.7])
    assert src.raw["message_hub"]["runtime_info"]["dtype"] == np.dtype("float32")
    assert "mmengine" not in sys.modules  # stood in for, never imported

    assert main(["convert", str(path), "-o", str(tmp_path / "ours.pt")]) == 0
    out = capsys.readouterr().out
    assert "as mmpretrain" in out and "restricted unpickler" in out and "MessageHub" in out
    assert "decoder_num_heads=4 taken from the checkpoint's meta.cfg" in out
    imported = import_model(tmp_path / "ours.pt")
    assert imported.model.config == model.config
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    mask = torch.zeros(2, model.num_patches, dtype=torch.bool)
    mask[:, 1::2] = True
    with torch.no_grad():
        torch.testing.assert_close(imported.model(x, mask).pred, model(x, mask).pred, rtol=0, atol=0)


def _touch(marker):
    return f"open({str(marker)!r}, 'w').write('ran')"


class _System:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Exec(_System):
    def __reduce__(self):
        return (builtins.exec, (_touch(self.marker),))


class _Popen(_System):
    def __reduce__(self):
        return (subprocess.Popen, (["touch", str(self.marker)],))


class _ViaRebuild(_System):
    """An allow-listed rebuild function asked to call a non-allow-listed one."""

    def __reduce__(self):
        rebuild = torch._tensor._rebuild_from_type_v2
        return (rebuild, (builtins.exec, torch.Tensor, (_touch(self.marker),), {}))


class _Hidden(_System):
    """A plain object (inert stand-in) whose state holds the payload."""

    def __reduce__(self):
        return (copyreg.__newobj__, (_Hidden,), {"payload": _Exec(self.marker)})


@pytest.mark.parametrize("evil", [_System, _Exec, _Popen, _ViaRebuild, _Hidden])
def test_pickles_that_would_run_code_are_refused_without_running(tmp_path, evil):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    sd = MMPRETRAIN.from_ours(create_mae("mae_vit_micro_32px").state_dict())
    torch.save({"state_dict": sd, "message_hub": {"x": evil(marker)}}, path)
    with pytest.raises(ConversionError, match=r"refused, unsafe to read: the pickle would call") as err:
        import_model(path)
    assert any(name in str(err.value) for name in ("system", "exec", "Popen"))
    assert not marker.exists()
    assert main(["convert", str(path), "-o", str(tmp_path / "out.pt")]) == 2
    assert not marker.exists() and not (tmp_path / "out.pt").exists()


def test_restricted_unpickler_rules():
    marker = "/nonexistent/never"
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):
        safe_load(io.BytesIO(pickle.dumps(_System(marker), protocol=2)))
    for protocol in (0, 2, 4):  # a plain object of an unknown class is data at every protocol
        obj = safe_load(io.BytesIO(pickle.dumps(ConversionErrorLike(), protocol=protocol)))
        assert isinstance(obj, Opaque) and obj.state == {"a": [1, 2], "b": OrderedDict(c=3)}
        assert obj.pickled_name.endswith("ConversionErrorLike")
        with pytest.raises(UnsafePickleError):
            type(obj)()  # the stand-in class cannot be called ...
        with pytest.raises(UnsafePickleError):
            type(obj).__init__ = print  # ... nor changed


def _victim(a=0):
    return a


def _set_defaults_pickle(module: str, name: str) -> bytes:
    """GLOBAL module.name, then BUILD with slot state {"__defaults__": (1,)}: sets the function's defaults."""
    state = b"N}X\x0c\x00\x00\x00__defaults__K\x01\x85s\x86"  # (None, {"__defaults__": (1,)})
    return b"\x80\x02c" + f"{module}\n{name}\n".encode() + state + b"b."


def test_restricted_unpickler_does_not_touch_globals():
    before = torch._utils._rebuild_tensor_v2.__defaults__
    with pytest.raises(UnsafePickleError, match="would set attributes of <function _rebuild_tensor_v2"):
        safe_load(io.BytesIO(_set_defaults_pickle("torch._utils", "_rebuild_tensor_v2")))
    assert torch._utils._rebuild_tensor_v2.__defaults__ == before
    pickle.loads(_set_defaults_pickle(__name__, "_victim"))  # what plain pickle does with those bytes
    assert _victim() == 1


class ConversionErrorLike:
    def __init__(self):
        self.a = [1, 2]
        self.b = OrderedDict(c=3)
