"""The rule catalog: stable codes, names, severities and one-line summaries.

Codes are public names (``--select``, ``# noqa:``, config), so they never change.
Only rules with a check registered in ``gradlint.rules`` are run or listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict


@dataclass(frozen=True)
class RuleInfo:
    code: str
    name: str
    severity: str  # "error": crashes or silently wrong results; "warning": waste or harm under conditions
    summary: str


_RULES = [
    RuleInfo("GL101", "eval-mode-missing", "error",
             "A model runs in an inference region while it may still be in training mode."),
    RuleInfo("GL102", "mode-method-not-called", "error",
             "`model.eval`, `model.train`, `optimizer.zero_grad` or `optimizer.step` written without `()`."),
    RuleInfo("GL103", "train-mode-not-restored", "error",
             "A training loop switches a model to eval mode and its next training step runs without `.train()`."),
    RuleInfo("GL104", "functional-dropout-ignores-mode", "error",
             "`F.dropout` inside `forward` without `training=self.training`."),
    RuleInfo("GL105", "frozen-batchnorm-still-updating", "warning",
             "A frozen submodule with BatchNorm runs in train mode, so its running statistics still change."),
    RuleInfo("GL201", "grad-mode-missing-in-eval", "warning",
             "A model runs in an inference region with gradient tracking on."),
    RuleInfo("GL202", "grad-mode-context-not-entered", "error",
             "`with torch.no_grad:` (no call) or a bare `torch.no_grad()` statement: gradients stay on."),
    RuleInfo("GL203", "backward-under-no-grad", "error",
             "`.backward()` on a value computed under `no_grad` / `inference_mode`."),
    RuleInfo("GL204", "inference-tensor-escapes-to-autograd", "error",
             "A tensor made under `inference_mode` is used in a computation that is backpropagated."),
    RuleInfo("GL301", "frozen-params-in-optimizer", "warning",
             "Frozen parameters are passed to the optimizer with the model's unfiltered parameters."),
    RuleInfo("GL302", "no-op-freeze", "error",
             "`requires_grad` set on an `nn.Module`, or a misspelt attribute: nothing is frozen."),
    RuleInfo("GL303", "requires-grad-set-on-non-leaf", "error",
             "`.requires_grad = ...` on a computed tensor raises RuntimeError."),
    RuleInfo("GL304", "optimizer-misses-new-params", "error",
             "A submodule is replaced after the optimizer was built: the new layer never trains."),
    RuleInfo("GL305", "unfrozen-params-not-in-optimizer", "error",
             "Parameters unfrozen after a filtered optimizer was built never update."),
    RuleInfo("GL401", "grad-of-non-leaf", "error",
             "`.grad` read on a non-leaf tensor: it is None (and torch warns)."),
    RuleInfo("GL402", "non-leaf-used-as-parameter", "error",
             "A computed tensor used as a trainable weight."),
    RuleInfo("GL403", "in-place-update-of-leaf-outside-no-grad", "error",
             "`w -= lr * w.grad` on a leaf that requires grad, outside `no_grad`."),
    RuleInfo("GL501", "history-accumulated-across-iterations", "warning",
             "A grad-carrying tensor is folded into something that outlives the iteration: its graph stays alive."),
    RuleInfo("GL502", "zero-grad-missing-or-misplaced", "error",
             "Gradients are not reset between steps, or reset between `backward()` and `step()`."),
    RuleInfo("GL901", "forward-called-directly", "warning",
             "`model.forward(x)` bypasses hooks."),
    RuleInfo("GL902", "softmax-into-cross-entropy", "error",
             "`cross_entropy` given softmax output: gradients shrink."),
]

CATALOG: Dict[str, RuleInfo] = {r.code: r for r in _RULES}
