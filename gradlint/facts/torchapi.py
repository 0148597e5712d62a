"""What the linter knows about torch and the libraries around it, as plain tables.

Every predicate takes a canonical qualified name (see ``names.canonical``).
"""

from __future__ import annotations

from typing import Optional

from .syntax import const_bool

# ---- grad mode -------------------------------------------------------------------
GRAD_OFF = frozenset({"torch.no_grad", "torch.inference_mode"})
GRAD_ON = frozenset({"torch.enable_grad"})
GRAD_SET = "torch.set_grad_enabled"
GRAD_CONTEXTS = GRAD_OFF | GRAD_ON | {GRAD_SET}

# ---- nn.Module classes ------------------------------------------------------------
_NN = "torch.nn."

MODE_DEPENDENT = frozenset({
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
    "LazyBatchNorm3d", "SyncBatchNorm", "Transformer", "TransformerEncoderLayer",
    "TransformerDecoderLayer",
})
# Mode-dependent only when a keyword asks for it (dropout > 0, running stats on).
MODE_DEPENDENT_IF = {
    "RNN": "dropout", "LSTM": "dropout", "GRU": "dropout", "MultiheadAttention": "dropout",
    "InstanceNorm1d": "track_running_stats", "InstanceNorm2d": "track_running_stats",
    "InstanceNorm3d": "track_running_stats",
}
CONTAINERS = frozenset({"Sequential", "ModuleList", "ModuleDict", "TransformerEncoder",
                        "TransformerDecoder"})
WRAPPERS = frozenset({"torch.nn.DataParallel", "torch.nn.parallel.DistributedDataParallel",
                      "torch.compile", "torch.jit.script", "torch.jit.trace",
                      "torch.nn.SyncBatchNorm.convert_sync_batchnorm"})

# Objects whose ``prepare(a, b, ...)`` hands back its arguments, wrapped, in order.
PREPARERS = frozenset({"accelerate.Accelerator", "accelerate.accelerator.Accelerator"})

_PARAM_FREE = frozenset({
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Softmax", "Softmax2d", "LogSoftmax", "Softmin", "Softplus", "Softsign", "Hardtanh",
    "Hardswish", "Hardsigmoid", "Threshold", "Tanhshrink", "Softshrink", "Hardshrink",
    "LogSigmoid", "GLU", "Flatten", "Unflatten", "Identity", "Upsample", "UpsamplingNearest2d",
    "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "CosineSimilarity",
    "PairwiseDistance", "ChannelShuffle", "Fold", "Unfold", "LocalResponseNorm", "CrossMapLRN2d",
    "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout",
})


def nn_class(qual: Optional[str]) -> Optional[str]:
    """``torch.nn.Linear`` -> ``Linear``; None for anything that is not an nn.Module class."""
    if not qual or not qual.startswith(_NN):
        return None
    rest = qual[len(_NN):]
    if "." in rest or not rest[:1].isupper():
        return None
    if rest in ("Parameter", "Buffer", "Module", "UninitializedParameter"):
        return None
    return rest


def nn_param_free(name: str) -> bool:
    """Layers that hold no parameters: losses, activations, pooling, dropout, reshapes."""
    return (name in _PARAM_FREE or "Loss" in name or "Pool" in name
            or "Pad" in name)



# Layers that keep running statistics, updated by every forward in training mode (GL105).
_RUNNING_STATS = frozenset({"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                            "LazyBatchNorm3d", "SyncBatchNorm"})
_INSTANCE_NORMS = frozenset({"InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"})


def holds_batchnorm(name: str, args) -> Optional[bool]:
    """Whether an nn layer built as ``name(*args)`` (``(Arg, Value)`` pairs) holds batch norm with
    running statistics; a container holds it when one of its parts does (None: cannot tell)."""
    if name in _RUNNING_STATS or name in _INSTANCE_NORMS:
        track = next((a.value for a, _ in args if a.keyword is not None and a.keyword.value == "track_running_stats"),
                     None)
        return const_bool(track) if track is not None else name in _RUNNING_STATS
    if name not in CONTAINERS:
        return False
    found: Optional[bool] = False
    for _, v in args:
        if v.kind != "module":
            return None
        if v.batchnorm:
            return True
        if v.batchnorm is None:
            found = None
    return found


# torchvision models built with batch norm (and the timm names for the same families).
_BN_FAMILIES = ("resnet", "resnext", "wide_resnet", "densenet", "mobilenet", "efficientnet", "regnet",
                "inception", "googlenet", "shufflenet", "mnasnet")
_NO_BN_FAMILIES = ("alexnet", "squeezenet", "vit_", "swin", "convnext", "maxvit")


def factory_batchnorm(qual: str, node=None) -> Optional[bool]:
    """Whether a model factory's network holds batch norm: torchvision by function name, timm by
    a literal model name; None when the table does not know."""
    name = qual.rsplit(".", 1)[-1].lower()
    if qual.startswith("timm.") and node is not None and getattr(node, "args", None):
        first = node.args[0].value
        name = first.raw_value.lower() if type(first).__name__ == "SimpleString" else ""
    elif not qual.startswith("torchvision.models."):
        return None
    if name.startswith("vgg"):
        return name.endswith("_bn")
    if name.startswith(_BN_FAMILIES):
        return True
    if name.startswith(_NO_BN_FAMILIES):
        return False
    return None

MODULE_BASES = frozenset({"torch.nn.Module"})

# Libraries whose classes (CamelCase names under these prefixes) are nn.Modules, and their
# known non-module classes: what a class derived from them is.
_MODULE_LIBRARIES = ("torchvision.models.", "timm.models.", "timm.layers.", "torchaudio.models.",
                     "torch_geometric.nn.", "segmentation_models_pytorch.", "torchvision.ops.")
_LIGHTNING_MODULES = ("LightningModule",)
_HF_MODEL_WORDS = ("Model", "For", "PreTrained", "Encoder", "Decoder", "Transformer", "Embeddings", "Attention",
                   "Layer", "Block", "Mixin", "UNet", "VAE", "Net")
_HF_NOT_MODULES = ("Config", "Tokenizer", "Processor", "Trainer", "Arguments", "Output", "Pipeline", "Scheduler",
                   "FeatureExtractor", "Callback", "Collator", "Dataset", "Error")


def layerless_base(qual: Optional[str]) -> bool:
    """A module base class that holds no layers itself (LightningModule, an HF
    ``*PreTrainedModel``, diffusers' ``ModelMixin``): what a subclass holds is its own."""
    if not qual:
        return False
    last = qual.rsplit(".", 1)[-1]
    if qual.startswith(LIGHTNING_PREFIXES):
        return last in _LIGHTNING_MODULES
    return qual.startswith(("transformers.", "diffusers.")) and last.endswith(("PreTrainedModel", "ModelMixin"))


def module_base(qual: Optional[str]) -> Optional[bool]:
    """Whether a class named ``qual`` (as a base class) is an nn.Module: True, False (known
    not to be one), or None (a class this table does not know)."""
    if not qual:
        return None
    if qual in MODULE_BASES or nn_class(qual) is not None:
        return True
    if qual.startswith("torch.") and not qual.startswith(("torch.nn.", "torchvision", "torchaudio")):
        return False  # torch.utils.data.Dataset, torch.autograd.Function, torch.optim.Optimizer ...
    last = qual.rsplit(".", 1)[-1]
    if qual.startswith(LIGHTNING_PREFIXES):
        return last in _LIGHTNING_MODULES
    if qual.startswith(("transformers.", "diffusers.", "peft.")):
        if any(w in last for w in _HF_NOT_MODULES):
            return False
        return True if any(w in last for w in _HF_MODEL_WORDS) else None
    if qual.startswith("segmentation_models_pytorch.utils.train."):
        return None  # its epoch runners and meters are plain classes
    if qual.startswith(_MODULE_LIBRARIES):
        return True if last[:1].isupper() else None
    if qual.split(".", 1)[0] in ("abc", "typing", "enum", "dataclasses", "collections", "threading",
                                 "argparse", "json", "unittest", "numpy", "object"):
        return False
    return None
LIGHTNING_PREFIXES = ("pytorch_lightning", "lightning")
HF_TRAINER_WORDS = ("Trainer",)

# Engines that put the model they are given in eval mode each time they run (ignite's
# supervised evaluator; its trainer's train() leaves training mode, which is known anyway).
MODE_OWNING_ENGINES = frozenset({"ignite.engine.create_supervised_evaluator"})

# Factories that return a model in training mode.
_TRAIN_MODE_FACTORY_PREFIXES = ("torchvision.models.", "timm.create_model", "timm.models.",
                                "torch.hub.load", "segmentation_models_pytorch.")
# Libraries whose ``from_pretrained`` puts the model in eval mode.
_EVAL_ON_LOAD = ("transformers.", "diffusers.", "peft.", "sentence_transformers.")


def model_factory_mode(qual: Optional[str]) -> Optional[str]:
    """'train' / 'eval' for a call that builds a model, None if ``qual`` builds no model."""
    if not qual:
        return None
    for prefix in _TRAIN_MODE_FACTORY_PREFIXES:
        if qual.startswith(prefix) and (prefix.endswith(".") or qual == prefix):  # not hub.load_state_dict_from_url
            last = qual.rsplit(".", 1)[-1]
            if prefix == "torchvision.models." and any(not part[:1].islower() for part in qual.split(".")[2:]):
                return None  # weights enums and classes used as namespaces (`ResNet50_Weights.DEFAULT.transforms()`)
            if last.startswith("get_") and last != "get_model":
                return None
            if prefix == "segmentation_models_pytorch." and qual.count(".") > 1:
                return None  # its models are top-level (`smp.Unet`); `smp.utils.train.ValidEpoch` is a runner
            return "train"
    if qual.endswith(".from_pretrained") or qual.endswith(".from_config"):
        owner = qual.rsplit(".", 2)[-2]
        if any(word in owner for word in _HF_NOT_MODULES):
            return None  # `StableDiffusionControlNetPipeline`: a pipeline holds models, it is none
        if qual.startswith(_EVAL_ON_LOAD) and ("Model" in owner or "For" in owner or "Net" in owner):
            return "eval" if qual.endswith(".from_pretrained") else "train"
    return None


# torchvision's classification architectures, each with batch norm or dropout (or stochastic
# depth); its vision transformers default to no dropout at all.
_TORCHVISION_MODE_DEPENDENT = ("alexnet", "vgg", "resnet", "resnext", "wide_resnet", "densenet", "inception",
                               "googlenet", "mobilenet", "mnasnet", "shufflenet", "squeezenet", "efficientnet",
                               "regnet", "convnext", "swin", "maxvit")


def factory_mode_dep(qual: Optional[str]) -> Optional[bool]:
    """Whether a model a factory builds holds dropout or batch norm, where the factory says."""
    if qual and qual.startswith("torchvision.models.") and qual.count(".") == 2:
        return True if qual.rsplit(".", 1)[-1].startswith(_TORCHVISION_MODE_DEPENDENT) else None
    return None


# ---- optimizers ---------------------------------------------------------------------
_OPTIM_LIBS = ("torch.optim.", "transformers.", "bitsandbytes.", "bnb.", "apex.", "timm.optim.",
               "deepspeed.", "torch_optimizer.", "lion_pytorch.", "muon.")
_OPTIM_WORDS = ("adam", "sgd", "lamb", "lion", "adafactor", "rmsprop", "adagrad", "lbfgs",
                "lars", "novograd", "radam", "adadelta", "adamax", "muon", "optimizer", "sophia")


def is_optimizer_class(qual: Optional[str]) -> bool:
    if not qual or not qual.startswith(_OPTIM_LIBS):
        return False
    if ".lr_scheduler." in qual or ".swa_utils." in qual:
        return False
    last = qual.rsplit(".", 1)[-1]
    return last[:1].isupper() and last != "Optimizer" and any(w in last.lower() for w in _OPTIM_WORDS)


def is_scheduler_class(qual: Optional[str]) -> bool:
    return bool(qual) and ".lr_scheduler." in qual


# ---- tensors -------------------------------------------------------------------------
TENSOR_FACTORIES = frozenset({
    "torch.tensor", "torch.randn", "torch.rand", "torch.randint", "torch.zeros", "torch.ones",
    "torch.empty", "torch.full", "torch.arange", "torch.linspace", "torch.logspace", "torch.eye",
    "torch.randn_like", "torch.rand_like", "torch.zeros_like", "torch.ones_like",
    "torch.empty_like", "torch.full_like", "torch.randint_like", "torch.as_tensor",
    "torch.from_numpy", "torch.normal", "torch.randperm", "torch.Tensor", "torch.FloatTensor",
    "torch.LongTensor",
})
PARAMETER = "torch.nn.Parameter"
VARIABLE = "torch.autograd.Variable"   # legacy: on torch >= 0.4 a new leaf (requires_grad= sets the flag)

# torch.* names that are not tensor operations.
_NOT_TENSOR_OPS = frozenset({
    "torch.is_grad_enabled", "torch.is_tensor", "torch.numel", "torch.manual_seed", "torch.seed",
    "torch.save", "torch.load", "torch.device", "torch.set_grad_enabled", "torch.no_grad",
    "torch.enable_grad", "torch.inference_mode", "torch.is_inference_mode_enabled",
    "torch.set_num_threads", "torch.get_num_threads", "torch.set_default_dtype",
    "torch.get_default_dtype", "torch.set_printoptions", "torch.compile", "torch.dtype",
    "torch.finfo", "torch.iinfo", "torch.is_floating_point", "torch.set_float32_matmul_precision",
    "torch.use_deterministic_algorithms", "torch.Size", "torch.Generator",
})
_TENSOR_OP_NAMESPACES = ("torch.nn.functional.", "torch.linalg.", "torch.fft.", "torch.special.")


def is_tensor_op(qual: Optional[str]) -> bool:
    """A torch function whose result is a tensor computed from its tensor arguments."""
    if not qual or qual in _NOT_TENSOR_OPS or qual in TENSOR_FACTORIES:
        return False
    if qual.startswith(_TENSOR_OP_NAMESPACES):
        return True
    if qual.startswith("torch.") and qual.count(".") == 1:
        last = qual[6:]
        return last[:1].islower() and not last.startswith(("is_", "set_", "get_", "cuda", "backends"))
    return False


# Tensor methods that return no tensor (or a Python value).
NON_TENSOR_METHODS = frozenset({
    "item", "tolist", "numpy", "size", "dim", "numel", "data_ptr", "element_size", "nelement",
    "ndimension", "is_contiguous", "get_device", "backward", "retain_grad", "register_hook",
    "storage", "untyped_storage", "stride", "is_floating_point", "__len__", "any", "all",
    "equal", "allclose", "sum_to_size",
})
DETACHING_METHODS = frozenset({"detach", "detach_"})
# Conversions that may return the very same tensor (no copy, still a leaf).
CONVERSIONS = frozenset({"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "long", "int",
                         "type", "contiguous", "type_as"})
DTYPE_NAMES = frozenset({"float64", "double", "float16", "half", "bfloat16", "float32", "float", "int64", "long",
                         "int32", "int", "int16", "int8", "uint8", "bool", "complex64", "complex128"})
DTYPE_METHODS = {"float": "float32", "double": "float64", "half": "float16", "bfloat16": "bfloat16",
                 "long": "int64", "int": "int32"}
NON_GRAD_ATTRS = frozenset({"shape", "dtype", "device", "is_leaf", "requires_grad", "ndim",
                            "grad_fn", "is_cuda", "names", "layout"})

# Misspellings of requires_grad that silently set a new attribute.
MISSPELT_REQUIRES_GRAD = frozenset({
    "require_grad", "requires_grads", "require_grads", "requires_gradient", "require_gradient",
    "requiresGrad", "requires_gard", "requries_grad", "reqiures_grad", "requires_grd",
    "required_grad", "require_grade", "requires_grade", "requiers_grad", "requirs_grad",
    "reuqires_grad", "requires_gradients",
})

MODE_METHODS = frozenset({"eval", "train", "zero_grad", "step"})
# `model._modules.values()`: methods of the dict of submodules, which no nn.Module has; a call of
# one lists the parts and runs nothing.
DICT_METHODS = frozenset({"values", "items", "keys", "get", "pop", "update", "copy", "setdefault"})
# nn.Module's own methods that do not run the model.
MODULE_API = frozenset({
    "eval", "train", "parameters", "named_parameters", "modules", "named_modules", "children",
    "named_children", "state_dict", "load_state_dict", "apply", "register_forward_hook",
    "register_forward_pre_hook", "register_full_backward_hook", "register_backward_hook", "register_buffer",
    "register_parameter", "register_module", "add_module", "buffers", "named_buffers", "to", "cuda", "cpu",
    "float", "double", "half", "bfloat16", "type", "zero_grad", "requires_grad_", "share_memory",
    "extra_repr", "get_submodule", "get_parameter", "get_buffer", "set_extra_state", "get_extra_state",
    "to_empty", "compile", "ipu", "xpu", "mtia", "save_pretrained", "push_to_hub", "gradient_checkpointing_enable",
    "resize_token_embeddings", "get_input_embeddings", "get_output_embeddings", "tie_weights",
    "num_parameters", "print_trainable_parameters", "merge_and_unload", "load_adapter", "set_adapter",
})
MODULE_ONLY_METHODS = frozenset({
    "eval", "train", "parameters", "named_parameters", "modules", "named_modules", "children",
    "named_children", "state_dict", "load_state_dict", "apply", "register_forward_hook",
    "register_forward_pre_hook", "register_buffer", "buffers", "named_buffers",
})


def names_grad_off_decorator(name: str) -> bool:
    """A project's own wrapper named for no_grad/inference_mode (yolov5's
    ``@smart_inference_mode()``): trusted to disable gradients as its name says."""
    low = name.lower()
    return "inference_mode" in low or "no_grad" in low


# Tensor methods whose result holds indices or booleans: never part of the graph.
INDEX_METHODS = frozenset({"argmax", "argmin", "argsort", "nonzero", "long", "int", "bool", "byte",
                           "eq", "ne", "gt", "lt", "ge", "le", "isnan", "isinf", "isfinite", "sign"})
INDEX_FUNCTIONS = frozenset({"torch.argmax", "torch.argmin", "torch.argsort", "torch.nonzero",
                             "torch.eq", "torch.ne", "torch.gt", "torch.lt", "torch.isnan",
                             "torch.isinf", "torch.isfinite", "torch.randint", "torch.randperm",
                             "torch.arange", "torch.bucketize", "torch.searchsorted"})
# (values, indices) pairs.
PAIR_METHODS = frozenset({"max", "min", "topk", "sort", "median", "mode", "kthvalue", "cummax",
                          "cummin"})


# ---- frameworks -----------------------------------------------------------------------
# Lightning and HF hooks: the framework sets eval mode and no_grad around them.
EVAL_HOOKS = frozenset({
    "validation_step", "test_step", "predict_step", "validation_step_end", "test_step_end",
    "validation_epoch_end", "test_epoch_end", "on_validation_epoch_end", "on_test_epoch_end",
    "on_validation_batch_end", "on_test_batch_end", "on_predict_batch_end",
    "on_validation_epoch_start", "on_test_epoch_start", "on_validation_start", "on_test_start",
    "on_validation_end", "on_test_end", "on_predict_epoch_end",
})
HF_TRAINER_HOOKS = frozenset({"evaluate", "prediction_step", "evaluation_loop", "predict",
                              "compute_loss", "prediction_loop"})
TRAIN_HOOKS = frozenset({"training_step", "training_step_end"})
# skorch's NeuralNet calls `infer` and `get_loss` from its training and its evaluation steps
# alike and sets the mode around them: an override's mode is the framework's, neither one
# known. Its step methods set the mode in their own bodies: an override of one owns nothing.
SKORCH_HOOKS = {"infer": "owned", "get_loss": "owned"}
