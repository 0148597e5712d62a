"""The interpreter's state at a program point, and the lookups rules share with it."""

from __future__ import annotations

from typing import Dict

from .names import root_of
from .scopes import FunctionInfo
from .values import ENTRY, ENTRY_T, UNKNOWN_ATOMS, Value


def lookup_mode(modes: dict, key: str, trained: frozenset, entry_ok: bool) -> frozenset:
    """The mode atoms of ``key``: its own entry, else the nearest containing model's."""
    k = key
    while True:
        atoms = modes.get(k)
        if atoms is not None:
            return atoms
        cut = k.rfind(".")
        if cut < 0:
            break
        item = modes.get(k[:cut] + ".item")  # models["g"] is one of the elements `for m in models` set
        if item is not None and not k.endswith(".item"):
            return item
        k = k[:cut]
    if not entry_ok:
        return UNKNOWN_ATOMS
    out = set()
    if False in trained:
        out.add((ENTRY, key))
    if True in trained:
        out.add((ENTRY_T, key))
    return frozenset(out)


def entry_ok(fn: FunctionInfo, key: str) -> bool:
    """True when ``key`` reaches ``fn`` from its callers (a parameter, self, or a global)."""
    if fn.is_module_level:
        return False
    root = root_of(key)
    return root in fn.params or root not in fn.locals


class State:
    __slots__ = ("env", "modes", "grad", "trained", "frozen")

    def __init__(self, env, modes, grad, trained, frozen):
        self.env: Dict[str, Value] = env
        self.modes: dict = modes          # copied on write, so call sites can keep it
        self.grad: frozenset = grad
        self.trained: frozenset = trained  # {False}, {True} or both: a training step ran
        self.frozen: frozenset = frozen    # module keys that may be frozen

    def copy(self) -> "State":
        return State(dict(self.env), self.modes, self.grad, self.trained, self.frozen)

    def same(self, other: "State") -> bool:
        return (self.grad == other.grad and self.trained == other.trained
                and self.frozen == other.frozen and self.modes == other.modes
                and self.env == other.env)
