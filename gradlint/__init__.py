"""gradlint: find PyTorch gradient and train/eval-mode mistakes, and prove them."""

__version__ = "0.1.0"
