"""Pretrained weights without surprise downloads: decide between ImageNet weights and ``None``.

Chapter 08 builds ``keras.applications.MobileNetV2(..., weights=choose_weights())``. On Colab
(or when asked for) that is ``"imagenet"``, the real transfer-learning path that downloads the
weights once. Under tests, CI, nbgrader or ``COURSE_OFFLINE`` it is ``None``: the same model
with random weights, so nothing is ever downloaded there. Nothing here runs on import.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

#: The ImageNet weights file ``MobileNetV2(alpha=0.35, input_shape=(96, 96, 3),
#: include_top=False)`` downloads into ``~/.keras/models`` (about 2 MB).
MOBILENET_V2_FILE = "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5"

#: Environment variables that mean "no network, no downloads": nbgrader, pytest, CI, by hand.
OFFLINE_ENV = ("NBGRADER_EXECUTION", "PYTEST_CURRENT_TEST", "CI", "COURSE_OFFLINE")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def mobilenet_v2_file(alpha: float = 0.35, rows: int = 96, include_top: bool = False) -> str:
    """The file name Keras caches for ``MobileNetV2(alpha=alpha)`` ImageNet weights at ``rows``."""
    name = f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_{int(rows)}"
    return name + ("" if include_top else "_no_top") + ".h5"


def keras_cache_dirs() -> list[Path]:
    """Folders where Keras keeps downloaded model weights (``$KERAS_HOME/models`` first)."""
    dirs = []
    if os.environ.get("KERAS_HOME"):
        dirs.append(Path(os.environ["KERAS_HOME"]).expanduser() / "models")
    dirs.append(Path.home() / ".keras" / "models")
    dirs.append(Path("/tmp") / ".keras" / "models")  # Keras' fallback when ~/.keras is read-only
    return dirs


def cached_weights(filename: str = MOBILENET_V2_FILE) -> Path | None:
    """The cached weights file ``filename``, or ``None`` when it has not been downloaded."""
    for folder in keras_cache_dirs():
        path = folder / filename
        if path.is_file() and path.stat().st_size > 0:
            return path
    return None


def _flag(name: str) -> str:
    return os.environ.get(name, "").strip().lower()


def explain_weights(filename: str = MOBILENET_V2_FILE) -> tuple[str | None, str]:
    """Decide the ``weights`` argument and say why (in Chinese).

    Order: ``COURSE_PRETRAINED=1`` (or ``0``) wins; then any of :data:`OFFLINE_ENV` gives
    ``None``; then Colab or an already-cached ``filename`` gives ``"imagenet"``; else ``None``.

    Returns:
        ``(weights, message)`` with ``weights`` either ``"imagenet"`` or ``None``.
    """
    offline_hint = "（设置 COURSE_PRETRAINED=1 可强制下载 ImageNet 权重）"
    forced = _flag("COURSE_PRETRAINED")
    if forced in _TRUE:
        return (
            "imagenet",
            "使用 ImageNet 预训练权重：环境变量 COURSE_PRETRAINED=1 要求下载/加载它们。",
        )
    if forced in _FALSE:
        return None, "不加载预训练权重 (weights=None)：环境变量 COURSE_PRETRAINED=0。"
    for name in OFFLINE_ENV:
        if os.environ.get(name):
            return None, (
                f"不加载预训练权重 (weights=None)：检测到 {name}（测试、自动评分或离线环境），"
                "这里绝不下载文件；模型结构相同，但权重是随机的，迁移学习的准确率没有参考意义"
                + offline_hint
            )
    if "google.colab" in sys.modules:
        return (
            "imagenet",
            "使用 ImageNet 预训练权重：在 Colab 上，第一次运行会自动下载（约 2 MB）。",
        )
    path = cached_weights(filename)
    if path is not None:
        return "imagenet", f"使用 ImageNet 预训练权重：已在本地缓存中找到 {path}，无需下载。"
    return None, (
        f"不加载预训练权重 (weights=None)：本地缓存中没有 {filename}，也不在 Colab 上；"
        "模型结构相同，但权重是随机的，迁移学习的准确率没有参考意义" + offline_hint
    )


def choose_weights(filename: str = MOBILENET_V2_FILE, verbose: bool = True) -> str | None:
    """``"imagenet"`` or ``None`` for ``keras.applications`` models; prints why when ``verbose``.

    See :func:`explain_weights` for the rules. Used by chapter 08.
    """
    weights, message = explain_weights(filename)
    if verbose:
        print(message)
    return weights
