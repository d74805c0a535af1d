"""ragdistill's BootstrapFinetune bridge: train a local student (LoRA) and serve it as a DSPy LM.

`LoRATrainConfig` + `train_student` (lora.py) train; `StudentLM` (lm.py) serves; `StudentProvider`
(provider.py) lets `dspy.BootstrapFinetune` call the trainer; `StudentAdapter` (adapter.py) turns
signatures into student prompts. The submodules import torch/transformers lazily; importing this package
imports DSPy.
"""

from finetune.adapter import StudentAdapter
from finetune.config import LoRATrainConfig, TrainResult
from finetune.lm import StudentLM, anchor_students, merge
from finetune.lora import train_student
from finetune.provider import StudentProvider

__all__ = [
    "LoRATrainConfig",
    "StudentAdapter",
    "StudentLM",
    "StudentProvider",
    "TrainResult",
    "anchor_students",
    "merge",
    "train_student",
]
