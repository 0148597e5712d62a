"""The "Fix" section of each rule's page: what ``gradlint --fix`` does (see gradlint/fixes/)."""

from __future__ import annotations

SAFE = "`gradlint --fix` (safe)"
UNSAFE = "`gradlint --fix --unsafe-fixes` (unsafe: review it, `--diff` shows it first)"

FIXES = {
    "GL101": f"""
{UNSAFE} inserts `model.eval()` before the region: as the first statement of an
evaluation function, or just before the evaluation loop. Where code after the region may
rely on training mode (the region runs inside a training loop, its function is called
from one, or its callers are outside the file), the previous mode is restored:
`was_training = model.training` before, `model.train(was_training)` after, in
`try/finally` when the function can return early. Not fixable when the model is bound
inside the region (a loop variable). Unsafe because the outputs change.
""",
    "GL102": f"{SAFE} adds the call: `model.eval` becomes `model.eval()`.",
    "GL103": f"""
{UNSAFE} inserts `model.train()` where training resumes: before the first training
statement after the evaluation in the loop body, else at the start of the training
loop's body. Unsafe because training results change.
""",
    "GL201": f"""
{UNSAFE} decorates an evaluation function with `@torch.no_grad()` (the body is not
re-indented), or wraps the evaluation loop in `with torch.no_grad():`, naming torch as
the file does and adding `import torch` when nothing names it. Unsafe because the
outputs no longer carry gradients, which later code might have used.
""",
    "GL202": f"""
{SAFE} instantiates the context manager: `with torch.no_grad:` becomes
`with torch.no_grad():`. For a bare `torch.no_grad()` statement, {UNSAFE} runs the rest of
its block under `with torch.no_grad():`; not when a definition or import follows it in
the block, or nothing does.
""",
    "GL203": """
No automatic fix: where gradients should come from (compute the value with gradients on,
or do not backpropagate it) is a decision about the program.
""",
    "GL301": f"""
{SAFE} passes only trainable parameters, `(p for p in model.parameters() if
p.requires_grad)` (also inside param-group dicts; `list(model.parameters())` becomes a
list comprehension). Only where the parameters are frozen *before* the optimizer is
built: for a freeze after it, filtering at construction changes nothing, so the finding
stays and is counted as not fixable (rebuild the optimizer after freezing, or make sure
the frozen parameters' `.grad` is None).
""",
    "GL302": f"""
{SAFE} `module.requires_grad = False` becomes `module.requires_grad_(False)` (unsafe when the
file also reads `module.requires_grad`, which then no longer exists);
`p.require_grad = False` becomes `p.requires_grad = False`; `p.requires_grad == False`
becomes `p.requires_grad = False`. A freeze that now works can surface GL301, which the
next pass fixes.
""",
    "GL303": """
No automatic fix: whether the computed tensor should be detached into a new leaf or keep
its history is a decision about the program (the message shows the detach idiom).
""",
    "GL401": f"""
{UNSAFE} `y.retain_grad()` right after a non-leaf is assigned (arithmetic, a module's
output); for a fresh leaf copied by `.to(device)`, `.cuda()` or `.double()`, the device
or dtype moves into the factory (`torch.randn(..., device=device, requires_grad=True)`);
a name rebound to a computed value of itself in a loop (`w = w - lr * g`) becomes
`(w - lr * g).detach().requires_grad_()`. Unsafe because the gradient now lands on a
different tensor (and a factory with a new dtype draws different numbers).
""",
    "GL501": f"""
{SAFE} accumulates `loss.item()` when the accumulator is only used as a number in its
scope and the value is a scalar (a loss, a reduction), else `loss.detach()`.
""",
}
