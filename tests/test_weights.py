"""The weights facts (gradlint/facts/weights.py) and their rules: in-place writes (GL403), tensors
used as weights (GL402), graph cuts (GL404), optimizers that miss new or unfrozen parameters
(GL304, GL305), in one file and across files."""

import textwrap

import libcst as cst
import pytest

from conftest import write
from gradlint.engine import lint_paths, lint_source
from gradlint.facts import FileFacts
from gradlint.selection import Selection

HEAD = "import torch\nimport torch.nn as nn\n"


def facts_of(source: str) -> FileFacts:
    return FileFacts.build(cst.parse_module(HEAD + textwrap.dedent(source)), "m.py")


def found(source: str, *codes: str):
    """(line, code) of the findings of ``codes``; lines count from the snippet's first line."""
    text = HEAD + textwrap.dedent(source).lstrip("\n")
    return sorted((f.line - 2, f.code) for f in lint_source(text, "m.py", Selection(list(codes))))


# -- GL403 and the leaf that stays a leaf -------------------------------------------------------
def test_a_leaf_updated_in_place_under_no_grad_stays_a_leaf():
    facts = facts_of("""
        w = torch.zeros(3, requires_grad=True)
        with torch.no_grad():
            w -= 0.1
        v = w
    """)
    assert facts.interpreter.module_env["v"].tensor.atoms == frozenset({"leaf_rg"})


def test_in_place_writes_of_leaves_and_parameters_are_events():
    facts = facts_of("""
        w = torch.zeros(3, requires_grad=True)
        model = nn.Linear(3, 1)
        w -= 0.1
        w.mul_(2)
        w[0] = 1.0
        model.weight.zero_()
        w.data -= 0.1
        w.requires_grad_(True)
        model.weight.grad.zero_()
    """)
    shown = sorted((e.name, e.how) for e in facts.events.inplace_updates.values())
    assert shown == [("model.weight", "`.zero_()`"), ("w", "`-=`"), ("w", "`.mul_()`"), ("w", "an indexed assignment")]


@pytest.mark.parametrize("source, expected", [
    # the loop's second pass still sees a leaf: GL403 at the update, no GL401 on `w.grad`
    ("""
     w = torch.zeros(3, requires_grad=True)
     for _ in range(2):
         (w * 2).sum().backward()
         w -= 0.1 * w.grad
     """, [(4, "GL403")]),
    # every caller runs the helper under no_grad
    ("""
     def step(model):
         for p in model.parameters():
             p.add_(p.grad, alpha=-0.1)
     m = nn.Linear(2, 1)
     with torch.no_grad():
         step(m)
     """, []),
    # nobody in the file calls it: the grad mode is unknown, nothing is said
    ("""
     def step(model):
         for p in model.parameters():
             p.add_(p.grad, alpha=-0.1)
     """, []),
    # a helper called with gradients on
    ("""
     def step(model):
         for p in model.parameters():
             p.add_(p.grad, alpha=-0.1)
     step(nn.Linear(2, 1))
     """, [(3, "GL403")]),
    # a frozen model's weights and a tensor that does not require grad
    ("""
     m = nn.Linear(2, 1)
     m.requires_grad_(False)
     m.weight.fill_(0.0)
     t = torch.zeros(3)
     t -= 1
     """, []),
])
def test_gl403_and_gl401(source, expected):
    assert found(source, "GL403", "GL401") == expected


def test_gl403_fix_wraps_the_statement_under_no_grad():
    from gradlint.autofix import fix_text

    text = "import torch as T\nw = T.zeros(3, requires_grad=True)\n(w * 2).sum().backward()\nw -= 0.1 * w.grad\n"
    new, remaining, fixed = fix_text(text, "m.py")
    assert fixed == 1 and remaining == []
    assert new.endswith("with T.no_grad():\n    w -= 0.1 * w.grad\n")


# -- GL402 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("source, expected", [
    ("""
     w = torch.randn(3, requires_grad=True).float()
     opt = torch.optim.SGD([w], lr=0.1)
     """, []),  # float32 to float32: the same leaf
    ("""
     w = torch.randn(3, requires_grad=True).cuda()
     opt = torch.optim.SGD([{"params": [w]}], lr=0.1)
     """, [(1, "GL402")]),
    ("""
     def make(device):
         w = torch.randn(3, requires_grad=True).to(device)
         return torch.optim.SGD([w], lr=0.1)
     make("cuda")
     """, [(2, "GL402")]),
    ("""
     with torch.no_grad():
         w = torch.randn(3, requires_grad=True) * 2
     opt = torch.optim.SGD([w], lr=0.1)
     """, []),  # computed under no_grad: a leaf
    ("""
     class M(nn.Module):
         def __init__(self):
             super().__init__()
             self.w = nn.Parameter(torch.zeros(3).half())
             self.v = nn.Parameter(torch.zeros(3)).half()
     """, [(5, "GL402")]),
])
def test_gl402(source, expected):
    assert found(source, "GL402") == expected


def test_gl402_device_copy_is_said_to_be_cuda_only():
    text = HEAD + "import os\nd = os.environ['D']\nw = torch.zeros(3, requires_grad=True).to(d)\nopt = torch.optim.SGD([w])\n"
    (finding,) = lint_source(text, "m.py", Selection(["GL402"]))
    assert "on CUDA" in finding.message


# -- GL404 --------------------------------------------------------------------------------------
@pytest.mark.parametrize("source, expected", [
    ("""
     enc, head = nn.Linear(4, 4), nn.Linear(4, 1)
     f = torch.tensor(enc(torch.randn(2, 4)))
     head(f).sum().backward()
     """, [(2, "GL404")]),
    ("""
     enc = nn.Linear(4, 1)
     loss = enc(torch.randn(2, 4)).sum()
     kept = torch.tensor(loss)
     loss.backward()
     """, []),  # the copy is never backpropagated
    ("""
     enc = nn.Linear(4, 1)
     x = torch.tensor(torch.randn(2, 4))
     enc(x).sum().backward()
     """, []),  # a copy of a tensor without a graph
    ("""
     enc = nn.Linear(4, 1)
     f = torch.as_tensor(enc(torch.randn(2, 4)))
     f.sum().backward()
     """, []),  # as_tensor keeps the graph
])
def test_gl404(source, expected):
    assert found(source, "GL404") == expected


def test_as_tensor_of_a_tensor_keeps_its_graph():
    facts = facts_of("""
        w = torch.randn(3, requires_grad=True)
        y = torch.as_tensor(w * 2)
        z = torch.Tensor(w)
    """)
    env = facts.interpreter.module_env
    assert env["y"].tensor.atoms == frozenset({"nonleaf"})
    assert env["z"].tensor.atoms == frozenset({"nonleaf"})


# -- GL304 / GL305 in one file ------------------------------------------------------------------
@pytest.mark.parametrize("source, expected", [
    # rebuilt in the branch that replaces
    ("""
     model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
     opt = torch.optim.SGD(model.parameters(), lr=0.1)
     for epoch in range(3):
         if epoch == 1:
             model[1] = nn.Linear(4, 3)
             opt = torch.optim.SGD(model.parameters(), lr=0.1)
         opt.step()
     """, []),
    # replaced in the loop, stepped on the next pass
    ("""
     model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
     opt = torch.optim.SGD(model.parameters(), lr=0.1)
     for epoch in range(3):
         opt.step()
         if epoch == 1:
             model[1] = nn.Linear(4, 3)
     """, [(6, "GL304")]),
    # never stepped after the replacement: nothing is lost
    ("""
     model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
     opt = torch.optim.SGD(model.parameters(), lr=0.1)
     opt.step()
     model[1] = nn.Linear(4, 3)
     """, []),
    # an optimizer of another model
    ("""
     a, b = nn.Linear(4, 4), nn.Sequential(nn.Linear(4, 4))
     opt = torch.optim.SGD(a.parameters(), lr=0.1)
     b[0] = nn.Linear(4, 2)
     opt.step()
     """, []),
    # GAN: the discriminator frozen while the generator's filtered optimizer is built
    ("""
     G, D = nn.Linear(4, 4), nn.Linear(4, 1)
     D.requires_grad_(False)
     opt_g = torch.optim.Adam(filter(lambda p: p.requires_grad, G.parameters()))
     D.requires_grad_(True)
     opt_g.step()
     """, []),
    # the frozen part left out of a filtered optimizer, unfrozen, stepped
    ("""
     model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
     model[0].requires_grad_(False)
     opt = torch.optim.Adam(filter(lambda p: p.requires_grad, model.parameters()))
     model[0].requires_grad_(True)
     opt.step()
     """, [(4, "GL305")]),
    # the same with an unfiltered optimizer: it holds them (GL301's concern, not GL305's)
    ("""
     model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
     model[0].requires_grad_(False)
     opt = torch.optim.Adam(model.parameters())
     model[0].requires_grad_(True)
     opt.step()
     """, []),
])
def test_gl304_gl305(source, expected):
    assert found(source, "GL304", "GL305") == expected


# -- across files -------------------------------------------------------------------------------
def _project(tmp_path, files):
    (tmp_path / ".git").mkdir()
    for name, text in files.items():
        write(tmp_path, name, textwrap.dedent(text))
    findings = lint_paths([str(tmp_path / "train.py")], Selection(["GL304", "GL305"]), jobs=1)
    return [(f.line, f.code) for f in findings]


def test_a_head_replaced_by_a_helper_in_another_file(tmp_path):
    assert _project(tmp_path, {
        "heads.py": """
            import torch.nn as nn


            def new_head(model, classes):
                model.fc = nn.Linear(8, classes)
        """,
        "train.py": """
            import torch
            import torch.nn as nn
            from heads import new_head

            model = nn.Sequential(nn.Linear(8, 8))
            model.fc = nn.Linear(8, 4)
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            new_head(model, 2)
            opt.step()
        """,
    }) == [(9, "GL304")]


def test_an_unfreeze_helper_in_another_file(tmp_path):
    assert _project(tmp_path, {
        "freezing.py": """
            def unfreeze(module):
                for p in module.parameters():
                    p.requires_grad = True
        """,
        "train.py": """
            import torch
            import torch.nn as nn
            from freezing import unfreeze

            model = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 2))
            model[0].requires_grad_(False)
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
            unfreeze(model[0])
            opt.step()
        """,
    }) == [(9, "GL305")]


def test_param_groups_rewritten_by_hand_hold_the_new_parameters():
    """accelerate's fp8 benchmarks swap layers, then map every param group's "params" to the new
    parameters: the optimizer is no longer said to miss them."""
    assert found("""
        model = nn.Sequential(nn.Linear(4, 4))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        old = dict(model.named_parameters())
        model[0] = nn.Linear(4, 4)
        new = dict(model.named_parameters())
        for group in opt.param_groups:
            group["params"] = [new[n] for n in old]
        opt.step()
    """, "GL304") == []


@pytest.mark.parametrize("source, expected", [
    # legacy Variable: a new leaf; its `.cuda()` copy on the CUDA path is not one
    ("""
     from torch.autograd import Variable
     v = Variable(torch.randn(3) * 1e-3, requires_grad=True)
     if torch.cuda.is_available():
         v = v.cuda()
     opt = torch.optim.Adam([v])
     """, [(4, "GL402")]),
    ("""
     from torch.autograd import Variable
     v = Variable(torch.randn(3) * 1e-3, requires_grad=True)
     opt = torch.optim.Adam([v])
     """, []),
])
def test_gl402_legacy_variable_and_some_paths(source, expected):
    assert found(source, "GL402") == expected


@pytest.mark.parametrize("source, expected", [
    # made on the GPU already by a helper: `.cuda()` returns the same leaf
    ("""
     from torch.autograd import Variable
     def make(x):
         return Variable(x.cuda(), requires_grad=True)
     v = make(torch.randn(3))
     v = v.cuda()
     opt = torch.optim.SGD([v], lr=0.1)
     """, []),
    ("""
     w = torch.zeros(3, device="cuda", requires_grad=True).cuda()
     opt = torch.optim.SGD([w], lr=0.1)
     """, []),
    ("""
     class M(nn.Module):
         def __init__(self, device):
             super().__init__()
             self.a = nn.Parameter(torch.zeros(3, device=device)).to(device)
             self.b = nn.Parameter(torch.zeros(3)).to(device)
     """, [(5, "GL402")]),
])
def test_gl402_device_moves_of_tensors_already_on_the_device(source, expected):
    assert found(source, "GL402") == expected


def test_a_second_optimizer_built_for_the_new_layer_holds_it():
    assert found("""
        model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
        body_opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model[1] = nn.Linear(4, 3)
        head_opt = torch.optim.Adam(model[1].parameters())
        body_opt.step()
        head_opt.step()
    """, "GL304") == []


def test_a_method_that_replaces_a_part_of_self_is_a_helper_and_init_is_not():
    facts = facts_of("""
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)

            def reset_head(self, n):
                self.fc = nn.Linear(4, n)

        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.reset_head(3)
        opt.step()
    """)
    methods = {fn.name: fn for fn in facts.scopes.functions}
    assert methods["__init__"].replaces == set() and methods["reset_head"].replaces == {"self.fc"}
    assert [e.key for e in facts.events.optimizer_misses.values()] == ["model.fc"]
