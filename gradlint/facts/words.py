"""What identifiers say about intent: inference regions, training code, model names.

The linter never trusts a single name alone for a verdict; these words only decide
where to look (which loops and functions are evaluation code, which callees are models).
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

# "testloader", "valset", "evaldata": an inference word glued to a data word.
_DATA_SUFFIXES = ("loader", "loaders", "set", "sets", "data", "dataset", "dl", "ds",
                  "iter", "iterator", "batches", "batch", "x", "y", "images", "imgs",
                  "inputs", "samples", "gen")

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


def says_inference(names: Iterable[str]) -> bool:
    """True when the names speak of evaluation/test/prediction and not of training."""
    inference = training = False
    for name in names:
        for tok in tokens(name):
            inference = inference or _is_inference_token(tok)
            training = training or _is_training_token(tok)
    return inference and not training


def says_training(names: Iterable[str]) -> bool:
    return any(_is_training_token(t) for n in names for t in tokens(n))


@lru_cache(maxsize=4096)
def is_model_name(key: str) -> bool:
    """``model``, ``self.net``, ``netG``, ``resnet``: a name people give to a model."""
    last = key.rsplit(".", 1)[-1]
    for tok in tokens(last):
        if tok in _MODEL_WORDS or tok.endswith("net") or tok.endswith("model"):
            return True
    return False


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
