"""The facts layer on its own: names, scopes, modes, grad mode, tensors, regions, loops."""

import textwrap

import libcst as cst
import pytest

from gradlint.engine import lint_text
from gradlint.facts import FileFacts
from gradlint.facts import words
from gradlint.facts.names import ImportTable, key_of
from gradlint.fixes.cst_tools import code_of


def facts_of(source: str, path: str = "m.py") -> FileFacts:
    return FileFacts.build(cst.parse_module(textwrap.dedent(source)), path)


def calls(facts: FileFacts, key: str):
    """Forward-call events of the model ``key``, in source order."""
    return [e for e in facts.events.forward_calls.values() if e.key == key]


def modes(facts: FileFacts, event) -> set:
    return {kind for kind, _ in facts.resolve_modes(event.fn, event.modes)}


def grad(facts: FileFacts, event) -> set:
    return set(facts.resolve_grad(event.fn, event.grad))


# -- names -------------------------------------------------------------------------------

@pytest.mark.parametrize("imports, expr, qualname", [
    ("import torch as T", "T.no_grad", "torch.no_grad"),
    ("from torch import no_grad", "no_grad", "torch.no_grad"),
    ("import torch", "torch.autograd.no_grad", "torch.no_grad"),
    ("import torch", "torch.autograd.grad_mode.inference_mode", "torch.inference_mode"),
    ("from torch.nn import functional as F", "F.dropout", "torch.nn.functional.dropout"),
    ("import torch.nn as nn", "nn.modules.linear.Linear", "torch.nn.Linear"),
    ("from torch.nn.parallel import DistributedDataParallel as DDP", "DDP",
     "torch.nn.parallel.DistributedDataParallel"),
    ("from . import utils", "utils.evaluate", ".utils.evaluate"),
    ("import numpy as np", "torch.no_grad", None),
])
def test_qualified_names_follow_imports_and_aliases(imports, expr, qualname):
    table = ImportTable()
    table.add(cst.parse_statement(imports).body[0])
    assert table.qualname(cst.parse_expression(expr)) == qualname


@pytest.mark.parametrize("expr, key", [
    ("model", "model"),
    ("self.model.encoder", "self.model.encoder"),
    ("model.module", "model"),            # DDP / DataParallel wrapper
    ("model._orig_mod.fc", "model.fc"),  # torch.compile wrapper
    ("model[0]", "model.0"),
    ("model['fc']", "model.fc"),
    ("get_model().fc", None),
    ("models[i]", None),
])
def test_keys_name_objects_as_named_parameters_does(expr, key):
    assert key_of(cst.parse_expression(expr)) == key


# -- words ---------------------------------------------------------------------------------

def test_inference_words():
    assert words.says_inference(["evaluate"]) and words.says_inference(["val_loader"])
    assert words.says_inference(["testloader"]) and words.says_inference(["predict_step"])
    assert not words.says_inference(["train_and_evaluate"])
    assert not words.says_inference(["interval"])
    assert words.is_builder_name("get_eval_model") and not words.is_builder_name("evaluate")


def test_model_names():
    assert all(words.is_model_name(n) for n in ["model", "self.net", "netG", "resnet", "model_ema"])
    assert not any(words.is_model_name(n) for n in ["ModelPrediction", "Net", "run_model", "criterion"])
    assert words.is_model_class_name("ResNet") and not words.is_model_class_name("GPTConfig")


# -- scopes ----------------------------------------------------------------------------------

def test_scopes_find_functions_classes_and_decorators():
    facts = facts_of("""
        import torch
        import torch.nn as nn
        import pytorch_lightning as pl
        class Base(nn.Module):
            pass
        class Net(Base):
            def forward(self, x):
                return x
        class Lit(pl.LightningModule):
            def validation_step(self, batch):
                def inner():
                    return 1
                return inner()
        @torch.no_grad
        def evaluate(model):
            return model
    """)
    names = {fn.qualname for fn in facts.scopes.functions}
    assert names == {"Net.forward", "Lit.validation_step", "Lit.validation_step.<locals>.inner", "evaluate"}
    classes = {c.name: c for c in facts.scopes.classes}
    assert classes["Net"].is_module and classes["Net"].local_bases == [classes["Base"]]
    assert classes["Lit"].framework == "lightning"
    evaluate = next(fn for fn in facts.scopes.functions if fn.name == "evaluate")
    assert evaluate.decorator_quals == ["torch.no_grad"]
    inner = next(fn for fn in facts.scopes.functions if fn.name == "inner")
    assert facts.framework_of(inner) == "eval"


# -- grad mode -------------------------------------------------------------------------------

def test_grad_mode_from_with_blocks_decorators_and_set_grad_enabled():
    facts = facts_of("""
        import torch
        from torch import no_grad
        model = torch.nn.Linear(2, 2)
        flag = True
        out1 = model(x1)
        with no_grad():
            out2 = model(x2)
        with torch.set_grad_enabled(flag):
            out3 = model(x3)
        with torch.inference_mode(), torch.enable_grad():
            out4 = model(x4)
        torch.set_grad_enabled(False)
        out5 = model(x5)
        @torch.no_grad
        def f():
            return model(x6)
    """)
    found = [grad(facts, e) for e in calls(facts, "model")]
    assert found == [{"on"}, {"off"}, {"on", "off", "flag"}, {"on"}, {"off"}, {"off"}]  # "flag": the program chooses


def test_grad_mode_comes_from_every_caller_in_the_file():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        def helper(m, x):
            return m(x)
        def lonely(m, x):
            return m(x)
        with torch.no_grad():
            helper(model, 1)
            helper(model, 2)
    """)
    helper_call, lonely_call = calls(facts, "m")
    assert grad(facts, helper_call) == {"off"}
    assert grad(facts, lonely_call) == {"unknown"}  # nobody in this file calls it


def test_a_function_passed_around_has_unknown_callers():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        def evaluate(m):
            return m(1)
        with torch.no_grad():
            evaluate(model)
        callbacks = [evaluate]
    """)
    [event] = calls(facts, "m")
    assert grad(facts, event) == {"off", "unknown"}


# -- train/eval mode ---------------------------------------------------------------------------

def test_mode_of_a_model_and_of_its_parts():
    facts = facts_of("""
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.encoder = nn.Linear(2, 2)
                self.drop = nn.Dropout(0.1)
            def forward(self, x):
                return self.drop(self.encoder(x))
        net = Net()
        net(1)
        net.load_state_dict(state)
        net(2)
        net.eval()
        net.encoder(3)
        net.train()
        net(4)
        net.train(False)
        net(5)
        net.train(flag)
        net(6)
    """)
    found = [modes(facts, e) for e in calls(facts, "net")]
    assert found == [{"new"}, {"train"}, {"train_set"}, {"eval"}, {"eval", "train_set"}]
    [encoder] = calls(facts, "net.encoder")
    assert modes(facts, encoder) == {"eval"}  # eval() on the model reaches its parts


def test_a_training_step_turns_an_explicit_train_into_training_mode():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        model(1)
        loss = model(2).sum()
        loss.backward()
        opt.step()
        model(3)
    """)
    found = [modes(facts, e) for e in calls(facts, "model")]
    assert found == [{"train_set"}, {"train_set"}, {"train"}]


def test_helper_effects_apply_at_the_call_with_the_call_as_setter():
    facts = facts_of("""
        import torch
        def set_eval(m):
            m.eval()
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
        set_eval(model)
        model(1)
    """)
    [event] = calls(facts, "model")
    [(kind, setter)] = facts.resolve_modes(event.fn, event.modes)
    assert kind == "eval" and code_of(setter) == "set_eval(model)"


def test_entry_mode_resolves_through_callers_methods_and_globals():
    facts = facts_of("""
        import torch
        model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout())
        @torch.no_grad()
        def estimate():
            return model(1)
        class Trainer:
            def __init__(self, net):
                self.net = net
            def validate(self):
                return self.net(2)
            def fit(self):
                self.net.train()
                self.validate()
        model.eval()
        estimate()
        trainer = Trainer(model)
        trainer.fit()
    """)
    [global_use] = calls(facts, "model")
    assert modes(facts, global_use) == {"eval"}
    [method_use] = calls(facts, "self.net")
    assert modes(facts, method_use) == {"train_set"}


def test_init_effects_reach_new_instances():
    facts = facts_of("""
        import torch
        class Saliency:
            def __init__(self, model):
                self.model = model
                self.model.eval()
            def explain(self, x):
                return self.model(x)
        s = Saliency(torch.nn.Sequential(torch.nn.Dropout()))
        s.explain(1)
    """)
    [event] = calls(facts, "self.model")
    assert modes(facts, event) == {"eval"}


def test_loaders_that_return_eval_mode_models():
    facts = facts_of("""
        from transformers import AutoModelForSequenceClassification
        import torchvision
        bert = AutoModelForSequenceClassification.from_pretrained("x")
        bert(1)
        resnet = torchvision.models.resnet18(weights=None)
        resnet(2)
    """)
    assert modes(facts, calls(facts, "bert")[0]) == {"eval"}
    assert modes(facts, calls(facts, "resnet")[0]) == {"train"}


def test_torchvision_weights_enums_build_no_model():
    """``ResNet50_Weights.DEFAULT.transforms()`` is a preprocessing preset: calling it on an
    image in an evaluation function records no graph (a lowercase name under a CamelCase
    torchvision name is a method of an enum, not a model factory)."""
    source = """
        import torch
        import torchvision
        weights = torchvision.models.EfficientNet_B2_Weights.DEFAULT
        preset = weights.transforms()
        model = torchvision.models.efficientnet_b2(weights=weights)
        model.load_state_dict(torch.load("w.pt"))
        def predict(img):
            x = preset(img).unsqueeze(0)
            y = torchvision.models.ResNet50_Weights.DEFAULT.transforms()(img)
            return model(x)
    """
    facts = facts_of(source)
    assert not calls(facts, "preset")
    assert [f.code for f in lint_text(textwrap.dedent(source), "m.py")] == ["GL201"]  # the model only


def test_a_model_handed_to_an_ignite_evaluator_has_the_mode_the_engines_leave():
    """ignite's supervised evaluator calls ``model.eval()`` each time it runs (here from the
    trainer's COMPLETED handler): after it, the mode is unknown, not the fresh model's."""
    source = """
        import torch
        import torch.nn as nn
        from ignite.engine import create_supervised_trainer, create_supervised_evaluator
        model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.Linear(4, 2))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss())
        EVALUATOR
        trainer.run(loader, max_epochs=2)
        model.load_state_dict(torch.load("x.pt"))
        images, labels = next(iter(val_loader))
        with torch.no_grad():
            print(model(images))
    """
    with_evaluator = source.replace("EVALUATOR", "evaluator = create_supervised_evaluator(model)")
    without = source.replace("EVALUATOR", "")
    assert [f.code for f in lint_text(textwrap.dedent(with_evaluator), "m.py")] == []
    assert [f.code for f in lint_text(textwrap.dedent(without), "m.py")] == ["GL101"]


def test_rnn_dropout_needs_stacked_layers():
    """``nn.RNN(dropout=0.5)`` with one layer drops nothing (RNN dropout acts between stacked
    layers)."""
    facts = facts_of("""
        import torch
        import torch.nn as nn
        one, default, two, some = (nn.RNN(4, 4, dropout=0.5), nn.LSTM(4, 4, 1, dropout=0.5),
                                   nn.GRU(4, 4, num_layers=2, dropout=0.5), nn.LSTM(4, 4, num_layers=n, dropout=0.5))
        one(1); default(1); two(1); some(1)
    """)
    dep = {e.key: e.value.mode_dep for e in facts.events.forward_calls.values()}
    assert dep == {"one": False, "default": False, "two": True, "some": None}


def test_accelerate_prepare_hands_back_its_arguments_and_a_method_without_inputs_is_no_forward():
    """``model, optimizer = accelerator.prepare(model, optimizer)`` keeps what is known of the
    model (its batch norm: GL105 sees the frozen backbone); ``model.freeze_bn()`` and
    ``model.get_classifier()`` on a library model are given no input: no forward runs."""
    source = """
        import torch
        from accelerate import Accelerator
        from timm import create_model

        def training_function(loader):
            accelerator = Accelerator()
            model = create_model("resnet50d", pretrained=True, num_classes=3)
            for param in model.parameters():
                param.requires_grad = False
            for param in model.get_classifier().parameters():
                param.requires_grad = True
            optimizer = torch.optim.Adam(params=model.parameters(), lr=0.1)
            model, optimizer = accelerator.prepare(model, optimizer)
            for epoch in range(3):
                model.train()
                model.freeze_bn()
                for x, y in loader:
                    loss = torch.nn.functional.cross_entropy(model(x), y)
                    accelerator.backward(loss)
                    optimizer.step()
                    optimizer.zero_grad()
    """
    facts = facts_of(source)
    assert [type(e.node.func).__name__ for e in facts.events.forward_calls.values()] == ["Name"]
    assert [(f.code, f.line) for f in lint_text(textwrap.dedent(source), "m.py")] == [("GL105", 10)]


def test_layers_that_depend_on_mode():
    facts = facts_of("""
        import torch.nn as nn
        class WithDropout(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.1))
        class Plain(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
        class FunctionalDropout(nn.Module):
            def forward(self, x):
                return nn.functional.dropout(x, training=self.training)
        a, b, c = WithDropout(), Plain(), FunctionalDropout()
        d = nn.LSTM(2, 2, num_layers=2, dropout=0.2)
        e = nn.InstanceNorm1d(2)
        a(1); b(1); c(1); d(1); e(1)
    """)
    dep = {e.key: e.value.mode_dep for e in facts.events.forward_calls.values()}
    assert dep == {"a": True, "b": False, "c": True, "d": True, "e": False}


# -- tensors ---------------------------------------------------------------------------------

def tensor_atoms(facts, name):
    read = next(e for e in facts.events.grad_reads.values() if e.name == name)
    return facts.resolve_tensor(read.fn, read.fact), read.fact


@pytest.mark.parametrize("make, atoms, cuda_only", [
    ("torch.randn(3, requires_grad=True)", {"leaf_rg"}, False),
    ("torch.randn(3, requires_grad=True) * 2", {"nonleaf"}, False),
    ("torch.randn(3, requires_grad=True).double()", {"nonleaf"}, False),
    ("torch.randn(3, requires_grad=True).float()", {"leaf_rg"}, False),  # float32 already: same tensor
    ("torch.randn(3, requires_grad=True).to(device)", {"nonleaf"}, True),
    ("torch.randn(3, requires_grad=True).to('cpu')", {"leaf_rg"}, False),
    ("torch.randn(3, requires_grad=True).detach()", {"detached"}, False),
    ("torch.randn(3).to(device).requires_grad_()", {"leaf_rg"}, False),
    ("torch.nn.Linear(2, 2)(torch.randn(2))", {"nonleaf"}, False),
])
def test_leaf_and_non_leaf_tensors(make, atoms, cuda_only):
    facts = facts_of(f"import torch\nt = {make}\nt.grad\n")
    found, fact = tensor_atoms(facts, "t")
    assert set(found) == atoms and fact.cuda_only == cuda_only


def test_no_grad_retain_grad_and_requires_grad_assignment():
    facts = facts_of("""
        import torch
        w = torch.randn(3, requires_grad=True)
        with torch.no_grad():
            a = w * 2
        b = w * 2
        b.retain_grad()
        c = torch.tensor(2.0)
        c.requires_grad = True
        a.grad, b.grad, c.grad
    """)
    assert set(tensor_atoms(facts, "a")[0]) == {"nograd"}
    assert tensor_atoms(facts, "b")[1].retained
    assert set(tensor_atoms(facts, "c")[0]) == {"leaf_rg"}


def test_a_name_rebound_in_a_loop_may_be_a_non_leaf():
    facts = facts_of("""
        import torch
        w = torch.zeros(3, requires_grad=True)
        for step in range(3):
            g = w.grad
            w = w - 0.1 * g
    """)
    assert set(tensor_atoms(facts, "w")[0]) == {"leaf_rg", "nonleaf"}


def test_a_functions_tensors_follow_the_callers_grad_mode():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        def forward_twice(x):
            y = model(x)
            y.grad
        with torch.no_grad():
            forward_twice(1)
    """)
    assert set(tensor_atoms(facts, "y")[0]) == {"nograd"}


# -- regions and loops ------------------------------------------------------------------------

def test_regions_from_function_names_loops_and_arguments():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        def validate(m):
            return m(1)
        def get_eval_model():
            return model(2)
        for x in test_loader:
            model(x)
        model(x_test)
        model(y, patch_valid)
        for phase in ["train", "val"]:
            model(3)
    """)
    labels = {code_of(e.node): [r.label for r in e.regions] for e in facts.events.forward_calls.values()}
    assert labels == {
        "m(1)": ["evaluation function `validate`"],
        "model(2)": [],
        "model(x)": ["loop over `test_loader`"],
        "model(x_test)": ["call on `x_test`"],
        "model(y, patch_valid)": [],
        "model(3)": [],
    }


def test_regions_know_gradient_use_and_test_time_training():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        def saliency(m, x):
            x.requires_grad_()
            m(x).sum().backward()
            return x.grad
        def adapt(m, x):
            m(x).sum().backward()
            opt.step()
    """)
    regions = {e.fn.name: e.regions[0] for e in facts.events.forward_calls.values() if e.regions}
    assert regions == {}  # neither name speaks of inference
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        def predict_saliency(m, x):
            x.requires_grad_()
            m(x).sum().backward()
        def test_adapt(m, x):
            m(x).sum().backward()
            opt.step()
    """)
    regions = {e.fn.name: e.regions[0] for e in facts.events.forward_calls.values() if e.regions}
    assert regions["predict_saliency"].uses_grad and not regions["predict_saliency"].optimizer_step
    assert regions["test_adapt"].optimizer_step


def test_loops_know_whether_they_train_and_what_they_iterate():
    facts = facts_of("""
        import torch
        model = torch.nn.Linear(2, 2)
        def train_step(x):
            model(x).sum().backward()
        for epoch in range(3):
            for batch in loader:
                train_step(batch)
        for layer in range(4):
            pass
    """)
    loops = {code_of(info.node).splitlines()[0]: info for info in facts._interp.loop_infos.values()}
    assert loops["for epoch in range(3):"].trains and not loops["for epoch in range(3):"].data
    assert loops["for batch in loader:"].trains and loops["for batch in loader:"].data
    assert not loops["for layer in range(4):"].trains


# -- freezing and optimizers ------------------------------------------------------------------

def test_freezes_and_optimizer_parameter_sources():
    facts = facts_of("""
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.backbone = nn.Linear(2, 2)
                self.head = nn.Linear(2, 2)
                self.backbone.requires_grad_(False)
        def freeze(m):
            for p in m.parameters():
                p.requires_grad = False
        net = Net()
        seq = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
        freeze(seq[0])
        a = torch.optim.SGD(net.parameters(), lr=0.1)
        b = torch.optim.SGD(filter(lambda p: p.requires_grad, seq.parameters()), lr=0.1)
        c = torch.optim.SGD([p for p in seq.parameters() if p.requires_grad], lr=0.1)
        d = torch.optim.SGD([{"params": seq[1].parameters()}, {"params": net.head.parameters()}], lr=0.1)
    """)
    sources = [b.sources for b in facts.events.optimizers.values()]
    assert sources == [(("net", False),), (("seq", True),), (("seq", True),),
                       (("seq.1", False), ("net.head", False))]
    module = facts.scopes.module_fn
    assert {"net.backbone", "seq.0"} <= set(module.freezes)


def test_elements_of_a_models_tuple_carry_only_what_its_forward_shows():
    """`loss, acc = model(x, y)`: with the forward in view, a float or a comparison carries no
    graph; without it (a model handed in, its class unknown), only the first element is known
    to be the output, and accumulating the others is not reported."""
    known = textwrap.dedent("""
        import torch
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
            def forward(self, x, y):
                out = self.fc(x)
                return nn.functional.cross_entropy(out, y), (out.argmax(1) == y).sum(), out.mean().item()
        model = Net()
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        total, hits, mean = 0, 0, 0.0
        for x, y in [(torch.randn(2, 4), torch.tensor([0, 1]))]:
            loss, correct, m = model(x, y)
            loss.backward()
            opt.step()
            opt.zero_grad()
            total += loss
            hits += correct
            mean += m
    """)
    assert [(f.code, known.splitlines()[f.line - 1].strip()) for f in lint_text(known, "a.py")] == \
        [("GL501", "total += loss")]
    handed = textwrap.dedent("""
        import torch
        def train(model, loader):
            opt = torch.optim.SGD(model.parameters(), lr=0.1)
            total, acc_sum = 0, 0
            for x, y in loader:
                loss, acc = model(x, y)
                loss.backward()
                opt.step()
                opt.zero_grad()
                total += loss
                acc_sum += acc
    """)
    assert [(f.code, handed.splitlines()[f.line - 1].strip()) for f in lint_text(handed, "b.py")] == \
        [("GL501", "total += loss")]


def test_skorch_hooks_are_the_frameworks_in_a_neuralnet_subclass_only():
    """skorch calls ``infer`` from its training step and its evaluation step alike, setting the
    mode and grad mode itself: an override is no evaluation function ('owned', no region by
    its name). An ``evaluation_step`` override replaces the base's own no_grad: it owns nothing.
    The same names in a class that does not derive from skorch are ordinary methods."""
    source = """
        import torch
        import torch.nn as nn
        BASE
        class MyNet(Base):
            def initialize_module(self):
                self.seq_ = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
                return self

            def infer(self, x):
                return self.seq_(x)

            def evaluation_step(self, x):
                return self.infer(x)
    """
    for base, expected in (("from skorch import NeuralNetClassifier as Base",
                            {"initialize_module": None, "infer": "owned", "evaluation_step": None}),
                           ("from mylib import Base",
                            {"initialize_module": None, "infer": None, "evaluation_step": None})):
        facts = facts_of(source.replace("BASE", base))
        assert {fn.name: facts.framework_of(fn) for fn in facts.scopes.functions} == expected


def test_a_test_files_helper_that_only_tests_call_is_no_evaluation_function():
    """``_run_one_assert_val`` in a test file, called only by unit tests, checks what a context
    manager does to the model: not an evaluation routine, whatever "val" says. Called from
    ordinary code as well, it is judged as one."""
    source = """
        import torch
        import torch.nn as nn

        def _run_one_assert_val(model, x):
            model.eval()
            out = model(x)
            assert not model.training
            return out

        def test_eval():
            _run_one_assert_val(nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5)), torch.randn(1, 2))
        OTHER
    """
    only_tests = textwrap.dedent(source.replace("OTHER", ""))
    also_main = textwrap.dedent(source.replace(
        "OTHER", "def main():\n            _run_one_assert_val(nn.Linear(2, 2), torch.randn(1, 2))"))
    assert [f.code for f in lint_text(only_tests, "tests/test_ctx.py")] == []
    assert [f.code for f in lint_text(also_main, "tests/test_ctx.py")] == ["GL201"]


def test_segmentation_models_builds_models_at_its_top_level_only():
    """``smp.FPN(...)`` builds a model; ``smp.utils.train.ValidEpoch(model, ...)`` is the
    library's epoch runner (it sets eval mode and no_grad itself): its ``run(loader)`` is
    no model call."""
    facts = facts_of("""
        import torch
        import segmentation_models_pytorch as smp
        model = smp.FPN(encoder_name="resnet34")
        valid_epoch = smp.utils.train.ValidEpoch(model, loss=smp.utils.losses.DiceLoss())
        for epoch in range(2):
            logs = valid_epoch.run(valid_loader)
        model(1)
    """)
    assert [e.key for e in facts.events.forward_calls.values()] == ["model"]
    assert [f.code for f in lint_text(textwrap.dedent("""
        import segmentation_models_pytorch as smp
        valid_epoch = smp.utils.train.ValidEpoch(smp.Unet("resnet34"))
        for epoch in range(2):
            logs = valid_epoch.run(valid_loader)
    """), "m.py")] == []


def test_a_diffusers_pipeline_is_no_model():
    """``StableDiffusionControlNetPipeline.from_pretrained`` builds a pipeline: it holds models
    ("ControlNet" in its name) and its ``__call__`` runs under no_grad; its methods
    (``set_progress_bar_config``) run no forward. ``ControlNetModel.from_pretrained`` is a model."""
    source = """
        import torch
        from diffusers import StableDiffusionControlNetPipeline, ControlNetModel

        def log_validation(controlnet, args):
            pipeline = StableDiffusionControlNetPipeline.from_pretrained(args.model, controlnet=controlnet)
            pipeline.set_progress_bar_config(disable=True)
            image = pipeline("a prompt", num_inference_steps=20).images[0]
            net = ControlNetModel.from_pretrained(args.model)
            return net(image)
    """
    found = lint_text(textwrap.dedent(source), "m.py")
    assert [(f.code, f.message.split("`")[1]) for f in found] == [("GL201", "net")]
