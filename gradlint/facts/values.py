"""Abstract values of the interpreter, and how they join where control flow meets.

Train/eval mode atoms (sets of them describe what a model may be in):
  ("eval", node)       set to eval by ``node`` (``.eval()``, ``.train(False)``, a helper call,
                       a loader that returns eval-mode models); node is None for frameworks
  ("train_set", node)  ``.train()`` called explicitly at ``node`` and no training step since
                       (MC dropout and test-time adaptation switch to train on purpose)
  ("new", None)        freshly built, in training mode, never trained or loaded (a smoke test)
  ("loaded", node)     unpickled by ``torch.load`` at ``node``: in whatever mode it was saved in
  ("train", None)      training mode, after a training step or a load of weights
  ("unknown", None)    nothing known (a model from an unknown call, a function nobody calls)
  ("entry", key)       whatever the callers of this function left ``key`` in
  ("entry_t", key)     the same, after a training step in this function
  ("entry_s", key)     the same, after an optimizer step on ``key``'s own parameters: a model
                       that is being trained is in training mode unless something set eval

Grad atoms: "on", "off", "entry" (the callers' mode), "unknown".

Tensor atoms: "leaf_rg" (a leaf that requires grad), "nonleaf" (computed with autograd
recording: has a grad_fn), "nonleaf_if_grad" (computed from a grad-requiring tensor in
this function's entry grad mode), "nograd" (computed under no_grad/inference_mode),
"detached", "plain" (a tensor that never required grad), "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import FrozenSet, Optional, Tuple

import libcst as cst

EVAL, TRAIN_SET, TRAIN, NEW, UNKNOWN, ENTRY, ENTRY_T = ("eval", "train_set", "train", "new", "unknown",
                                                       "entry", "entry_t")
LOADED, ENTRY_S = "loaded", "entry_s"
ENTRY_KINDS = (ENTRY, ENTRY_T, ENTRY_S)
Atom = Tuple[str, object]
Atoms = FrozenSet[Atom]

TRAIN_ATOMS = frozenset({(TRAIN, None)})
NEW_ATOMS = frozenset({(NEW, None)})
UNKNOWN_ATOMS = frozenset({(UNKNOWN, None)})

REQUIRES_GRAD = frozenset({"leaf_rg", "nonleaf"})
MAY_REQUIRE_GRAD = REQUIRES_GRAD | {"nonleaf_if_grad", "unknown"}


def after_training(atoms: Atoms) -> Atoms:
    """A training step (or loading weights) turns an explicit ``.train()`` or a fresh model
    into plain training mode."""
    out = set()
    for kind, arg in atoms:
        if kind in (TRAIN_SET, NEW, LOADED):
            out.add((TRAIN, None))
        elif kind == ENTRY:
            out.add((ENTRY_T, arg))
        else:
            out.add((kind, arg))
    return frozenset(out)


def after_step(atoms: Atoms) -> Atoms:
    """An optimizer step on a model's own parameters: it is in the mode it trains in, which
    is training mode unless something set eval (eval-mode fine-tuning keeps its eval)."""
    out = set()
    for kind, arg in atoms:
        if kind in (TRAIN_SET, NEW, LOADED, UNKNOWN):
            out.add((TRAIN, None))
        elif kind in (ENTRY, ENTRY_T):
            out.add((ENTRY_S, arg))
        else:
            out.add((kind, arg))
    return frozenset(out)


@dataclass(frozen=True)
class TensorFact:
    atoms: FrozenSet[str]
    origin: Optional[cst.CSTNode] = None  # the expression that made it (for messages)
    how: str = ""                         # "arithmetic", "a .to(device) copy", "the model's output"
    cuda_only: bool = False               # a copy only where the device is CUDA (`.to(device)`)
    retained: bool = False                # .retain_grad() was called
    dtype: Optional[str] = None
    accum: FrozenSet[str] = frozenset()   # accumulators (GL501) this value was computed from
    cuts: FrozenSet[cst.CSTNode] = frozenset()  # graph cuts (GL404: `torch.tensor(t)`) it was computed from

    def join(self, other: "TensorFact") -> "TensorFact":
        if self == other:
            return self
        # where it was computed: the non-leaf side's, so a fix can find the computation
        origin = other.origin if _computed(other.atoms) and not _computed(self.atoms) else self.origin
        return TensorFact(
            atoms=self.atoms | other.atoms,
            origin=origin or other.origin,
            how=self.how or other.how,
            cuda_only=self.cuda_only and other.cuda_only if ("nonleaf" in self.atoms and "nonleaf" in other.atoms) else (self.cuda_only or other.cuda_only),
            retained=self.retained and other.retained,
            dtype=self.dtype if self.dtype == other.dtype else None,
            accum=self.accum | other.accum,
            cuts=self.cuts | other.cuts,
        )


UNKNOWN_TENSOR = TensorFact(frozenset({"unknown"}))


@dataclass(frozen=True)
class Value:
    """What an expression evaluates to, as far as the rules care."""

    kind: str                         # module optimizer scheduler tensor params param list number
                                      # class func import object unknown
    key: Optional[str] = None         # the object's identity as a dotted key, when it has one
    tensor: Optional[TensorFact] = None
    cls: object = None                # ClassInfo of a local class (instances and class refs)
    func: object = None               # FunctionInfo for a local function reference
    qual: Optional[str] = None        # qualified name of an imported object
    mode: Optional[Atoms] = None      # train/eval mode of a module not yet bound to a key
    mode_dep: Optional[bool] = None   # holds dropout/batch norm (None: unknown)
    has_params: Optional[bool] = None
    sources: Tuple[Tuple[str, bool], ...] = ()  # params: (model key, filtered?) pairs
    bound_in: object = None           # innermost loop where this name was last bound fresh
    frozen: Tuple[str, ...] = ()      # parts of a new module built frozen ("" = all of it); for an
                                      # optimizer, the keys that were frozen when it was built
    init_modes: Tuple = ()            # (".sub", atoms): modes its __init__ set on parts of itself
    elements: Tuple = ()              # a tuple's elements ((values, indices) of x.max(1))
    data: str = ""                    # drawn from this evaluation split (`next(iter(test_loader))`)
    alias_of: Optional[str] = None    # `model = ctx.model`: the key this name was bound from
    misses: Tuple = ()                # an optimizer's missing parameters: (node, code, key) of the
                                      # replacement or unfreeze it does not know about (GL304/GL305)
    batchnorm: Optional[bool] = None  # holds batch norm with running statistics (None: unknown)

    def with_(self, **changes) -> "Value":
        """A copy with some fields changed (dataclasses.replace, without its __init__ cost)."""
        new = object.__new__(Value)
        fields = dict(self.__dict__)
        fields.update(changes)
        object.__setattr__(new, "__dict__", fields)
        return new


UNKNOWN_VALUE = Value("unknown")
NUMBER = Value("number")
MODEL_OUTPUT = "the model's output"   # TensorFact.how of what a model call returns
NONE = Value("none")   # `x = None`: on a path where it is None, it is nothing else


def _computed(atoms) -> bool:
    """A non-leaf, for certain or once gradients are on (``nonleaf_if_grad``)."""
    return any(a.startswith("nonleaf") for a in atoms)


def join_values(a: Optional[Value], b: Optional[Value]) -> Optional[Value]:
    if a is None:
        return b
    if b is None or a is b or a == b:
        return a
    if a.kind == "none":  # `model = None` on one path, a model on the other: optional, still a model
        return b
    if b.kind == "none":
        return a
    if {a.kind, b.kind} == {"module", "unknown"}:  # a model on one path, nothing known on the other
        module, other = (a, b) if a.kind == "module" else (b, a)
        return module.with_(key=module.key if module.key == other.key else None,
                            bound_in=a.bound_in if a.bound_in is b.bound_in else None)
    if a.kind == b.kind == "tensor":
        return a.with_(tensor=a.tensor.join(b.tensor), key=a.key if a.key == b.key else None,
                       bound_in=a.bound_in if a.bound_in is b.bound_in else None)
    if a.kind == b.kind:
        tensor = a.tensor if b.tensor is None else (b.tensor if a.tensor is None else a.tensor.join(b.tensor))
        return a.with_(
            tensor=tensor,
            key=a.key if a.key == b.key else None,
            mode_dep=a.mode_dep if a.mode_dep == b.mode_dep else None,
            sources=a.sources if a.sources == b.sources else _join_sources(a.sources, b.sources),
            mode=(a.mode or frozenset()) | (b.mode or frozenset()) if (a.mode or b.mode) else None,
            bound_in=a.bound_in if a.bound_in is b.bound_in else None,
            misses=a.misses + tuple(m for m in b.misses if m not in a.misses),
        )
    key = a.key if a.key == b.key else None
    if "tensor" in (a.kind, b.kind) and {a.kind, b.kind} <= {"tensor", "number", "unknown"}:
        fact = (a.tensor or UNKNOWN_TENSOR).join(b.tensor or UNKNOWN_TENSOR)
        return Value("tensor", key=key, tensor=fact)
    return Value("unknown", key=key)


def _join_sources(a, b):
    # A params value is "unfiltered" only if it is so on every path.
    merged = {}
    for key, filtered in a + b:
        merged[key] = merged.get(key, False) or filtered
    if {k for k, _ in a} != {k for k, _ in b}:
        return tuple((k, True) for k in merged)
    return tuple(merged.items())
