"""What the interpreter saw, in the form the rules read.

States in events are symbolic in the function's entry (``entry`` atoms); rules read
them through ``FileFacts.resolve_*``, which substitutes what the callers in this file
pass in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Tuple

import libcst as cst


@dataclass(eq=False)
class LoopInfo:
    node: cst.CSTNode
    fn: object
    parent: Optional["LoopInfo"]
    trains: bool = False          # a backward / optimizer step runs inside (callees included)
    steps: bool = False           # an optimizer step (or a call that trains) runs inside
    data: bool = False            # iterates over data (a loader, batches, a split)
    step_after: bool = False      # a training step follows it in its function: it is inside one step

    def inside(self, other: "LoopInfo") -> bool:
        loop = self
        while loop is not None:
            if loop is other:
                return True
            loop = loop.parent
        return False


@dataclass(eq=False)
class Region:
    """Code that evaluates, tests or predicts: a function, a loop, or a single call."""

    node: cst.CSTNode
    fn: object
    kind: str                     # function | loop | call
    label: str                    # for messages: "evaluation function `evaluate`"
    uses_grad: bool = False       # backward, autograd.grad, .grad, requires_grad_: gradient-based inference
    optimizer_step: bool = False  # test-time training
    hands_model_out: bool = False # the model goes to an opaque callable that may use gradients
    block: object = None          # a branch region's block (the `else:` of `if args.train:`)


@dataclass(eq=False)
class ForwardCall:
    node: cst.Call
    fn: object
    key: Optional[str]
    value: object                 # the callee's Value
    grad: frozenset
    modes: frozenset
    loops: Tuple[LoopInfo, ...]
    regions: Tuple[Region, ...]
    generate: bool = False        # model.generate(...): decorated no_grad in HF
    certain: bool = True          # known to be a module (not only named like one)
    prepared: str = ""            # "`model.eval()`": readied for inference earlier in the function
    probe: bool = False           # run only for its output's shape (`model(dummy).shape`)
    frozen: bool = False          # `model.requires_grad_(False)` earlier here: every parameter frozen
    untouched: bool = False       # built here from its class, never trained or loaded since


@dataclass(eq=False)
class GradRead:
    node: cst.Attribute
    fn: object
    name: str
    fact: object                  # TensorFact


@dataclass(eq=False)
class RequiresGradSet:
    node: cst.CSTNode             # the assignment statement
    fn: object
    target: cst.CSTNode           # the object whose attribute is set
    attr: str
    value: object                 # Value of the target object
    rhs: cst.CSTNode


@dataclass(eq=False)
class Freeze:
    node: cst.CSTNode
    fn: object
    key: Optional[str]            # module key whose parameters are frozen (or unfrozen)
    frozen: bool                  # False: an unfreeze
    cls: object = None            # the class, when the key is on `self`


@dataclass(eq=False)
class OptimizerBuild:
    node: cst.Call
    fn: object
    sources: Tuple[Tuple[str, bool], ...]   # (model key, filtered?)
    source_classes: Tuple[object, ...] = ()  # local classes of the models, when known
    frozen_before: frozenset = frozenset()   # keys frozen when it is built (autofix: GL301)
    frozen_after: set = field(default_factory=set)  # keys frozen later in the same function run


@dataclass(eq=False)
class Accumulation:
    node: cst.CSTNode
    fn: object
    name: str                     # the accumulator
    fact: object                  # TensorFact of what is accumulated
    loop: Optional[LoopInfo]
    added: Optional[cst.CSTNode] = None  # the expression accumulated
    in_region: bool = False       # inside an evaluation region
    per_step: bool = False        # a framework hook's attribute: one accumulation per step
    fresh_in: Optional[LoopInfo] = None  # the enclosing loop that binds the accumulator anew


@dataclass(eq=False)
class Backward:
    node: cst.Call
    fn: object
    fact: Optional[object]        # TensorFact of the tensor differentiated
    guarded: bool = False         # inside `try: ... except RuntimeError:` (the error is expected)


@dataclass(eq=False)
class InPlaceUpdate:
    """An in-place write to a tensor or a parameter (``w -= ...``, ``w.add_()``, ``w[i] = ...``)."""

    node: cst.CSTNode             # the statement, or the in-place call
    fn: object
    name: str
    target: object                # Value of what is written (a tensor, or a module's parameter)
    grad: frozenset               # grad mode at the write
    how: str                      # "`-=`", "`.add_()`", "an indexed assignment"
    frozen: bool = False          # the parameter's model may be frozen there


@dataclass(eq=False)
class WeightUse:
    """A tensor used as a trainable weight: handed to an optimizer, or stored on a module as an
    ``nn.Parameter`` copy (GL402). ``fact.origin`` is where it was created."""

    node: cst.CSTNode             # the optimizer call, or the assignment that stores it
    fn: object
    name: str
    fact: object                  # TensorFact of the weight
    use: str                      # "optimizer" | "module"


@dataclass(eq=False)
class GraphCut:
    """``torch.tensor(t)`` of a tensor that carries a graph: a new leaf (GL404)."""

    node: cst.Call
    fn: object
    name: str
    fact: object                  # TensorFact of the tensor copied


@dataclass(eq=False)
class OptimizerMiss:
    """An optimizer stepped (or handed to a training function) after it stopped holding all the
    parameters that train: a submodule replaced (GL304) or parameters unfrozen (GL305) after it
    was built, with no rebuild and no ``add_param_group``."""

    node: cst.CSTNode             # the replacement or unfreeze (or the helper call that does it)
    fn: object
    code: str                     # GL304 | GL305
    key: str                      # the replaced submodule or the unfrozen part
    optimizer: str                # the optimizer's name
    use: cst.CSTNode              # the step (or call) that uses the optimizer afterwards


@dataclass(eq=False)
class Syntactic:
    """A finding decided by shape alone (GL102, GL202, GL302 misspellings)."""

    node: cst.CSTNode
    fn: object
    code: str
    message: str


@dataclass
class Events:
    """Events by node: a loop body is interpreted until its state is stable, and the last
    (most general) visit of a node replaces the earlier ones."""

    forward_calls: dict = field(default_factory=dict)
    grad_reads: dict = field(default_factory=dict)
    requires_grad_sets: dict = field(default_factory=dict)
    freezes: dict = field(default_factory=dict)
    optimizers: dict = field(default_factory=dict)
    accumulations: dict = field(default_factory=dict)
    backwards: dict = field(default_factory=dict)
    syntactic: dict = field(default_factory=dict)
    inplace_updates: dict = field(default_factory=dict)    # GL403
    weight_uses: dict = field(default_factory=dict)        # GL402, by the creation node
    parameter_copies: dict = field(default_factory=dict)   # `.to()` copies of an nn.Parameter (GL402)
    device_moves: dict = field(default_factory=dict)       # `.cuda()` / `.to(device)` of a leaf: made on the CPU?
    graph_cuts: dict = field(default_factory=dict)         # GL404
    optimizer_misses: dict = field(default_factory=dict)   # GL304 / GL305, by (node, code)
    cleared_misses: set = field(default_factory=set)       # misses whose optimizer's groups were rewritten
    external_calls: list = field(default_factory=list)     # CallSites of other files' functions
    external_escapes: set = field(default_factory=set)     # refs of other files' functions passed around
    constructions: set = field(default_factory=set)        # calls that looked like model runs but built one
    # GL104, GL105, GL204, GL502, GL503, GL902 (``recorders``)
    functional: dict = field(default_factory=dict)         # FunctionalCall
    forward_methods: dict = field(default_factory=dict)    # ForwardMethod
    losses: dict = field(default_factory=dict)             # LossInput
    inference_uses: dict = field(default_factory=dict)     # InferenceUse
    steps: dict = field(default_factory=dict)              # OptimizerStep
    resets: dict = field(default_factory=dict)             # GradReset
    backward_loops: dict = field(default_factory=dict)     # backward node -> its enclosing loops
    forward_states: dict = field(default_factory=dict)     # model call node -> (modes, frozen, trained) there
    inference_made: dict = field(default_factory=dict)     # node evaluated under inference_mode -> its context
    softmax_made: set = field(default_factory=set)         # calls whose result is a softmax
    hooked: dict = field(default_factory=dict)             # module key (None: every module) -> how hooks came
    hooking_classes: set = field(default_factory=set)      # id() of classes whose methods register hooks
    trained_freezes: set = field(default_factory=set)      # (id(fn), key) frozen once a training step may have run
    volatile: bool = False                                 # `Variable(..., volatile=True)`: code for torch < 0.4


# -- events of GL104, GL105, GL204, GL502, GL503, GL902 (recorded by ``recorders``) ---------------------
@dataclass(eq=False)
class FunctionalCall:
    """A ``torch.nn.functional`` call a rule reads by its arguments (dropout, attention)."""

    node: cst.Call
    fn: object
    qual: str


@dataclass(eq=False)
class LossInput:
    """A classification loss (``F.cross_entropy``, ``nn.CrossEntropyLoss()``, ``F.nll_loss``) and its input."""

    node: cst.Call
    fn: object
    loss: str                     # cross_entropy | nll_loss
    input: object                 # Value of the scores given to it
    arg: Optional[cst.CSTNode]    # their expression


@dataclass(eq=False)
class InferenceUse:
    """An operation outside ``inference_mode`` whose operand was made under it, with a grad-requiring
    operand (or a trainable model): autograd would have to save the inference tensor."""

    node: cst.CSTNode
    fn: object
    made: cst.CSTNode             # the expression that made the inference tensor
    how: str                      # as TensorFact.how of the result: "the model's output", "arithmetic", ...
    grad: frozenset               # the grad mode at the operation


@dataclass(eq=False)
class ForwardMethod:
    """``x.forward(...)``: the method called by name (the same fields ``rules.common.model_value`` reads)."""

    node: cst.Call
    fn: object
    key: Optional[str]
    value: object                 # the receiver's Value


@dataclass(eq=False)
class OptimizerStep:
    node: cst.Call
    fn: object
    key: Optional[str]            # the optimizer's key (``scaler.step(opt)``: ``opt``)
    value: object                 # the optimizer's Value
    loops: Tuple[LoopInfo, ...]


@dataclass(eq=False)
class GradReset:
    """Gradients cleared: ``zero_grad()`` (any receiver), ``p.grad = None``, ``p.grad.zero_()``, ``del p.grad``,
    a helper named for it; ``bare``: a ``zero_grad`` attribute statement without the call (GL102's)."""

    node: cst.CSTNode
    fn: object
    key: Optional[str]            # the receiver (optimizer or model) when known
    loops: Tuple[LoopInfo, ...]
    bare: bool = False

