"""Where local models run and in which precision: the one device and precision policy of ragdistill.

- Device: a GPU when torch sees one (`default_device`), else the CPU; loading and training both follow it.
- Inference (`inference_dtype`): bf16 on a GPU that computes it, else fp32.
- Training (`machine_precision`, the rule itself in `choose_precision`): "auto" trains under bf16 autocast
  where the hardware computes bf16 natively (a recent GPU, a CPU with AVX512-BF16 or AMX), because there it is
  faster; on other CPUs bf16 is emulated and slower, so fp32; on a GPU without bf16, fp16 for causal models
  and fp32 for T5 (whose activations overflow in fp16). Autocast keeps the weights in fp32.

Left out: several GPUs per model (device maps), Apple's MPS, quantized loading; CTranslate2 picks its own
device and compute type (`engine.ct2`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def default_device() -> str:
    """The device models run on when none is asked for.

    Returns:
        "cuda" when torch sees a GPU, else "cpu".
    """
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def inference_dtype(device: str) -> torch.dtype:
    """The dtype a model is loaded in for generation on `device`.

    Args:
        device: a torch device name ("cpu", "cuda", "cuda:1").

    Returns:
        bfloat16 on a GPU that computes it, float32 elsewhere.
    """
    import torch

    capable_gpu = device.startswith("cuda") and torch.cuda.is_bf16_supported()
    return torch.bfloat16 if capable_gpu else torch.float32


def choose_precision(precision: str, family: str, *, cuda: bool, cuda_bf16: bool, cpu_bf16: bool) -> str:
    """The precision to train in on a machine with these capabilities (the rule in the module docstring).

    Args:
        precision: "auto", or the precision to use as it is ("fp32", "fp16", "bf16").
        family: the model family, "seq2seq" or "causal" ("auto" never picks fp16 for seq2seq models: T5 overflows).
        cuda: whether training runs on a GPU.
        cuda_bf16: whether that GPU computes bf16.
        cpu_bf16: whether the CPU computes bf16 natively.

    Returns:
        "fp32", "fp16" or "bf16".

    Raises:
        ConfigError: `precision` is none of the above.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be auto, fp32, fp16 or bf16, not '{precision}'")
    if precision != "auto":
        return precision
    if cuda:
        return "bf16" if cuda_bf16 else ("fp16" if family == "causal" else "fp32")
    return "bf16" if cpu_bf16 else "fp32"


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, check, lambda: False)() for check in checks)


def machine_precision(precision: str, family: str) -> str:
    """`choose_precision` on this machine.

    Args:
        precision: "auto", "fp32", "fp16" or "bf16".
        family: the model family.

    Returns:
        The precision training runs in here.

    Raises:
        ConfigError: an unknown `precision`.
    """
    import torch

    cuda = default_device() == "cuda"
    cuda_bf16 = cuda and torch.cuda.is_bf16_supported()
    return choose_precision(precision, family, cuda=cuda, cuda_bf16=cuda_bf16, cpu_bf16=not cuda and cpu_has_bf16())
