"""A restricted unpickler for training checkpoints that ``torch.load(weights_only=True)`` refuses.

A raw mmengine checkpoint (the form official ColorMAE release files may take) stores, next to its
``state_dict``, a ``message_hub`` (``mmengine.logging.MessageHub`` / ``HistoryBuffer`` objects holding
numpy arrays), optimizer and scheduler states. ``weights_only`` loading refuses the unknown classes, and a
plain ``pickle`` load would import mmengine and run whatever the file names. This module reads such a
file without importing or calling anything outside an allow-list:

- ``GLOBAL`` of an allow-listed name (torch's own ``weights_only`` allow-list, numpy's array / dtype /
  scalar reconstructors, ``OrderedDict``, ``argparse.Namespace``) gives the real object; any other name
  gives an inert :class:`Opaque` subclass that stands for it. Nothing is imported for it.
- ``NEWOBJ`` / ``BUILD`` on such a stand-in (how plain objects pickle: ``cls.__new__(cls)`` then its
  ``__dict__``) make an inert instance that keeps the args and the state as data. ``BUILD`` on anything
  callable (a class, an allow-listed function) is refused: their attributes are the process's state.
- Calling a stand-in (``REDUCE``, ``INST`` with arguments, or an allow-listed rebuild function that would
  call it) raises :class:`UnsafePickleError` naming the callable: a file whose ``__reduce__`` would run
  ``os.system``, ``builtins.exec``, ``subprocess.Popen`` or any other non-allow-listed callable is refused
  before anything runs.

Written by hand because neither torch nor pickle offers "unknown classes become data": torch's
``weights_only`` unpickler refuses them, ``pickle.Unpickler`` imports them. Built on the pure-Python
``pickle._Unpickler`` so that ``REDUCE``, ``NEWOBJ``, ``BUILD`` and friends can be checked opcode by
opcode. :func:`torch_load` runs ``torch.load`` with it.
"""

from __future__ import annotations

import _compat_pickle
import argparse
import collections
import pickle
import types
from pathlib import Path
from typing import Any, ClassVar

import torch

__all__ = ["Opaque", "UnpicklingError", "UnsafePickleError", "Unpickler", "load", "torch_load"]

UnpicklingError = pickle.UnpicklingError

#: Names (``module.qualname``) that resolve to the real object, beyond torch's weights-only allow-list.
#: numpy's reconstructors only rebuild arrays, dtypes and scalars from bytes and already-unpickled values.
_NUMPY_NAMES = ("_reconstruct", "scalar")
_EXTRA_TYPES: dict[str, Any] = {
    "collections.OrderedDict": collections.OrderedDict,
    "argparse.Namespace": argparse.Namespace,
    "builtins.slice": slice,
    "builtins.frozenset": frozenset,
    "builtins.object": object,  # the base named by copyreg._reconstructor (protocols 0 and 1)
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle would call something that is not allow-listed; nothing was called."""


class _OpaqueMeta(type):
    """Metaclass of the stand-ins: calling one (what ``REDUCE`` does) is refused; they are read-only."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        raise UnsafePickleError(f"the pickle would call {cls.pickled_name}, which is not allow-listed")

    def __setattr__(cls, name: str, value: Any) -> None:
        raise UnsafePickleError(f"the pickle would set {cls.pickled_name}.{name}")


class Opaque(metaclass=_OpaqueMeta):
    """An inert stand-in for an object of a class that was not allow-listed.

    Attributes:
        pickled_name: ``"module.qualname"`` of the class the pickle named (class attribute).
        args: the ``NEWOBJ`` arguments (usually ``()``).
        state: what ``BUILD`` gave (usually the object's ``__dict__``), or None.
    """

    pickled_name: ClassVar[str] = "?"

    def __new__(cls, *args: Any) -> Opaque:
        obj = object.__new__(cls)
        obj.__dict__.update(args=args, state=None)
        return obj

    def __setstate__(self, state: Any) -> None:
        self.__dict__["state"] = state

    def __repr__(self) -> str:
        return f"<opaque {self.pickled_name}>"


def _allowed_globals() -> dict[str, Any]:
    from torch import _weights_only_unpickler as wou

    allowed = dict(wou._get_allowed_globals())
    allowed.update({f"{getattr(f, '__module__', '')}.{getattr(f, '__name__', '')}": f
                    for f in torch.serialization.get_safe_globals() if callable(f)})
    allowed.update(_EXTRA_TYPES)
    return allowed


def _numpy_global(module: str, name: str) -> Any | None:
    """numpy's ``ndarray`` / ``dtype`` and array / scalar reconstructors (numpy 1 and 2 module names)."""
    if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
        import numpy as np

        return getattr(np, name)
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in _NUMPY_NAMES:
        import numpy as np

        multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
        return getattr(multiarray, name)
    return None


def _safe_reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """``copyreg._reconstructor`` (protocol 0/1 objects), for stand-ins of plain objects only."""
    if isinstance(cls, _OpaqueMeta) and base is object and state is None:
        return cls.__new__(cls)
    raise UnsafePickleError(f"the pickle would rebuild {getattr(cls, '__name__', cls)!r} from "
                            f"{getattr(base, '__name__', base)!r}")


class Unpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """``pickle.Unpickler`` that never imports or calls anything outside the allow-list (module docstring).

    ``opaque`` lists the ``module.qualname`` of every stand-in made.
    """

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._allowed = _allowed_globals()
        self._callables = {id(v) for v in self._allowed.values()} | {id(_safe_reconstructor)}
        self._stand_ins: dict[str, type] = {}
        self.opaque: list[str] = []

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3 and self.fix_imports:
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        full = f"{module}.{name}"
        if full in self._allowed:
            return self._allowed[full]
        if full == "copyreg._reconstructor":
            return _safe_reconstructor
        found = _numpy_global(module, name)
        if found is not None:
            self._callables.add(id(found))
            return found
        if full not in self._stand_ins:
            stand_in = type.__new__(_OpaqueMeta, name.rpartition(".")[2] or "Opaque", (Opaque,),
                                    {"pickled_name": full, "__module__": __name__})
            self._stand_ins[full] = stand_in
            self.opaque.append(full)
        return self._stand_ins[full]

    # -- the opcodes that call something ---------------------------------------------------------------
    def _check_callable(self, func: Any) -> None:
        if isinstance(func, _OpaqueMeta):
            raise UnsafePickleError(f"the pickle would call {func.pickled_name}, which is not allow-listed")
        if id(func) not in self._callables:
            raise UnsafePickleError(f"the pickle would call {func!r}, which is not allow-listed")

    def load_reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        self._check_callable(func)
        self.stack[-1] = func(*args)

    def load_newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        self.append(self._new(cls, args))

    def load_newobj_ex(self) -> None:
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if kwargs:
            raise UnsafePickleError(f"the pickle would make {cls!r} with keyword arguments")
        self.append(self._new(cls, args))

    def _new(self, cls: Any, args: tuple) -> Any:
        """``cls.__new__(cls, *args)`` for stand-ins and allow-listed types only."""
        if isinstance(cls, _OpaqueMeta) or (isinstance(cls, type) and id(cls) in self._callables):
            return cls.__new__(cls, *args)
        raise UnsafePickleError(f"the pickle would make an object of {cls!r}, which is not allow-listed")

    def load_build(self) -> None:
        inst = self.stack[-2]  # the state is on top
        if callable(inst):  # a class or an allow-listed function: its attributes are global state
            raise UnsafePickleError(f"the pickle would set attributes of {inst!r}")
        super().load_build()

    def _instantiate(self, klass: Any, args: tuple) -> None:  # INST / OBJ (protocols 0 and 1)
        if isinstance(klass, _OpaqueMeta) and not args:
            self.append(klass.__new__(klass))
            return
        self._check_callable(klass)
        self.append(klass(*args))

    dispatch[pickle.REDUCE[0]] = load_reduce
    dispatch[pickle.NEWOBJ[0]] = load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = load_newobj_ex
    dispatch[pickle.BUILD[0]] = load_build


def load(file: Any, **kwargs: Any) -> Any:
    """``pickle.load`` with :class:`Unpickler` (what ``torch.load``'s legacy format calls)."""
    return Unpickler(file, **kwargs).load()


def torch_load(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[Any, list[str]]:
    """``torch.load(path)`` through :class:`Unpickler`: ``(the object, sorted names of the classes that
    became inert stand-ins)``. Raises :class:`UnsafePickleError` before calling anything not allow-listed."""
    made: list[Unpickler] = []

    class _Recording(Unpickler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    module = types.ModuleType(f"{__name__}.recording")  # torch.load wants a module: Unpickler + load
    module.Unpickler = _Recording  # type: ignore[attr-defined]
    module.load = lambda file, **kwargs: _Recording(file, **kwargs).load()  # type: ignore[attr-defined]
    obj = torch.load(path, map_location=map_location, weights_only=False, pickle_module=module)
    return obj, sorted({name for u in made for name in u.opaque})
