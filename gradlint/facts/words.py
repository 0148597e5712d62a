"""What identifiers say about intent: inference regions and training code.

A name ranks a guess and never decides alone: these words only say where evaluation code
may be (which loops and functions), and the analysis confirms it by what the code does (a
model runs there and no training step reaches it). Names never make a model or a tensor.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import FrozenSet, Iterable

_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

INFERENCE_WORDS = frozenset({
    "eval", "evaluate", "evaluation", "evaluating", "evaluator",
    "validate", "validation", "validating", "valid", "val",
    "test", "testing", "inference", "infer", "predict", "prediction", "predictions",
    "generate", "generation",
})
TRAINING_WORDS = frozenset({"train", "training", "fit", "finetune", "finetuning", "trn"})

# "testloader", "valset", "testdataloader": an inference word glued to a data word.
_DATA_SUFFIXES = ("loader", "loaders", "dataloader", "dataloaders", "set", "sets", "data", "dataset",
                  "datasets", "dl", "ds", "iter", "iterator", "batches", "batch", "x", "y", "images", "imgs",
                  "inputs", "samples", "gen", "examples", "split", "queue", "stream")

# False friends: "valid" and "val" next to these mean "valid (not padding)" or "value"
# (``valid_len``, ``valid_mask``, ``val_idx``); "infer" next to these probes a shape
# (``infer_conv_output_dim``, ``_infer_size``).
_VALID_ADJECTIVE = frozenset({"len", "lens", "length", "lengths", "mask", "masks", "idx", "idxs", "ids",
                              "indices", "index", "pos", "positions", "count", "counts", "num", "ratio",
                              "pixels", "pixel", "region", "regions", "frames", "frame", "entries", "span",
                              "spans", "moves", "actions", "action", "range", "tokens", "token", "flag",
                              "flags", "size", "sizes", "fn", "func", "function", "net", "head", "estimate",
                              "target", "targets", "max", "min"})
_SHAPE_PROBE = frozenset({"shape", "shapes", "size", "sizes", "dim", "dims", "dtype", "dtypes", "type", "types",
                          "device", "devices", "channels", "channel", "len", "length", "num", "padding",
                          "schema", "format", "stride", "strides", "axis", "axes", "rank"})

_MODEL_WORDS = frozenset({
    "model", "models", "net", "network", "encoder", "decoder", "classifier", "backbone",
    "generator", "discriminator", "critic", "actor", "policy", "teacher", "student",
    "transformer", "autoencoder", "vae", "unet", "resnet", "bert", "gpt", "llm",
    "detector", "segmenter", "regressor", "ema",
})


@lru_cache(maxsize=4096)
def tokens(name: str) -> FrozenSet[str]:
    """Lower-cased words of an identifier: ``valLoader`` -> {val, loader}."""
    return frozenset(t.lower() for t in _SPLIT.split(name) if t)


def _is_inference_token(tok: str) -> bool:
    if tok in INFERENCE_WORDS:
        return True
    for word in ("eval", "valid", "val", "test", "infer"):
        if tok.startswith(word) and tok[len(word):] in _DATA_SUFFIXES:
            return True
    return False


def _is_training_token(tok: str) -> bool:
    if tok in TRAINING_WORDS:
        return True
    return any(tok.startswith(w) and tok[len(w):] in _DATA_SUFFIXES for w in ("train", "trn"))


# "generate" names generation with a model only for these objects (generate_inputs,
# generate_config, generate_repro_string produce other things).
_GENERATED = frozenset({"text", "texts", "sample", "samples", "image", "images", "tokens", "sequence",
                        "sequences", "caption", "captions", "audio", "speech", "output", "outputs",
                        "response", "responses", "answer", "answers", "completion", "completions",
                        "video", "videos", "molecules", "music", "step"})


def _generation_only(name: str) -> bool:
    """``generate_inputs``: 'generate' is its only inference word and names no model output."""
    toks = [t.lower() for t in _SPLIT.split(name) if t]
    words_ = [t for t in toks if _is_inference_token(t)]
    if not words_ or any(w not in ("generate", "generation") for w in words_):
        return False
    rest = [t for t in toks if t not in ("generate", "generation")]
    return bool(rest) and not any(t in _GENERATED for t in rest)


@lru_cache(maxsize=4096)
def _name_says(name: str, in_tests: bool) -> tuple:
    """(inference, training) as one identifier says them, false friends aside."""
    toks = [t.lower() for t in _SPLIT.split(name) if t]
    inference = training = False
    for i, tok in enumerate(toks):
        if _is_training_token(tok):
            training = True
        if not _is_inference_token(tok):
            continue
        rest = toks[i + 1:]
        if tok in ("valid", "val") and rest and rest[0] in _VALID_ADJECTIVE:
            continue  # valid_len, val_idx: a property of the data, not a validation split
        if tok == "infer" and any(r in _SHAPE_PROBE for r in rest):
            continue  # infer_conv_output_dim: a shape probe
        if in_tests and tok.startswith("test"):
            continue  # test_input in a unit test names the test, not a test split
        inference = True
    return inference, training


def says_inference(names: Iterable[str], in_tests: bool = False) -> bool:
    """True when the names speak of evaluation/test/prediction and not of training.
    ``in_tests``: the code is a unit test's, where "test" names the test itself."""
    inference = training = False
    for name in names:
        if _generation_only(name):
            continue
        said = _name_says(name, in_tests)
        inference = inference or said[0]
        training = training or said[1]
    return inference and not training


def says_training(names: Iterable[str]) -> bool:
    return any(_is_training_token(t) for n in names for t in tokens(n))


# A callable named with one of these first is a function or method, not a model.
_VERBS = frozenset({"run", "get", "compute", "build", "make", "create", "load", "init", "call",
                    "apply", "forward", "predict", "evaluate", "eval", "train", "test", "update",
                    "save", "set", "sample", "generate", "to", "is", "has", "freeze", "prepare",
                    "configure", "setup", "export", "wrap", "unwrap", "print", "log", "plot"})
# Prefixes of function names that build or fetch things rather than evaluate.
_BUILDER_VERBS = frozenset({"get", "build", "create", "make", "load", "init", "set", "configure",
                            "setup", "prepare", "register", "add", "parse", "download"})
_DATA_WORDS = frozenset({"loader", "loaders", "dataloader", "dataloaders", "data", "dataset", "datasets",
                         "dl", "ds", "batch", "batches", "samples", "set", "iter", "iterator", "x", "y",
                         "images", "imgs", "inputs", "input", "features", "feats", "tokens", "ids",
                         "seq", "sequences", "examples", "split", "queue", "stream"})
# What a loop iterates when it goes over steps of data (a loop over `x` or `inputs` walks a
# sequence inside one step).
_LOOP_DATA_WORDS = frozenset({"loader", "loaders", "dataloader", "dataloaders", "data", "dataset",
                              "datasets", "dl", "ds", "batches", "examples", "split", "queue", "stream",
                              "iterator", "epoch", "epochs"})


@lru_cache(maxsize=4096)
def is_model_name(key: str) -> bool:
    """``model``, ``self.net``, ``netG``, ``resnet``: a name people give to a model instance.

    A CamelCase name (``ModelPrediction``, ``Net``) is a class: calling it builds, it does
    not run a model; a verb first (``run_model``, ``get_model``) names a function.
    """
    last = key.rsplit(".", 1)[-1]
    if last[:1].isupper() and any(c.islower() for c in last):
        return False
    toks = [t.lower() for t in _SPLIT.split(last) if t]
    if not toks or toks[0] in _VERBS:
        return False
    if "." in key and not _plausible_owner(key.rsplit(".", 1)[0]):
        return False  # solver.model, writer.generator: another library's object
    named = [t for t in toks if t in _MODEL_WORDS or t.endswith("net") or t.endswith("model")]
    if named and set(named) <= {"generator"} and len(toks) > 1:
        return False  # config_generator, data_generator: Python generators
    return bool(named)


def _plausible_owner(owner: str) -> bool:
    """``self``, ``self.trainer``, ``model``, ``net.module``: something that holds models."""
    root = owner.split(".", 1)[0]
    return root in ("self", "cls") or is_model_name(owner) or is_model_name(root)


def is_builder_name(name: str) -> bool:
    """``get_eval_model``, ``build_test_loader``: fetches or builds, does not evaluate."""
    toks = [t.lower() for t in _SPLIT.split(name) if t]
    return bool(toks) and toks[0] in _BUILDER_VERBS


def says_data(names: Iterable[str]) -> bool:
    """Names of data to iterate over: ``loader``, ``val_dl``, ``batches``, ``testset``."""
    for name in names:
        for tok in tokens(name):
            if tok in _LOOP_DATA_WORDS or _is_inference_token(tok) or _is_training_token(tok):
                return True
            if tok.endswith(("loader", "loaders", "set", "data", "batches")):
                return True
    return False


def says_inference_data(name: str, in_tests: bool = False) -> bool:
    """``x_test``, ``val_images``, ``testloader``: data of an evaluation split."""
    toks = tokens(name)
    if not says_inference([name], in_tests):
        return False
    return any(t in _DATA_WORDS or _is_inference_token(t) and t not in INFERENCE_WORDS for t in toks) \
        or len(toks) == 1 and next(iter(toks)) not in INFERENCE_WORDS


_NOT_MODEL_CLASS = frozenset({"config", "tokenizer", "dataset", "loader", "dataloader", "trainer",
                              "optimizer", "scheduler", "args", "params", "output", "outputs",
                              "processor", "sampler", "collator", "callback", "error", "exception"})


@lru_cache(maxsize=4096)
def is_model_class_name(name: str) -> bool:
    """``Net``, ``ResNet``, ``GPT``, ``UNet2DModel``: a class named like a model (not ``GPTConfig``)."""
    if not name[:1].isupper():
        return False
    parts = [t.lower() for t in _SPLIT.split(name) if t]
    if not parts or parts[-1] in _NOT_MODEL_CLASS:
        return False
    last = parts[-1]
    return last in _MODEL_WORDS or last.endswith(("net", "model", "encoder", "decoder", "generator",
                                                  "discriminator", "classifier", "transformer"))
