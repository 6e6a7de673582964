"""Distillation from a dense teacher (as in sparse progressive distillation and the
Neural Magic recipes): soft cross-entropy on logits at a temperature, plus an optional
MSE on hidden states.

loss = (1 - hardness) * task_loss + hardness * T^2 * CE(softmax(t / T), log_softmax(s / T))
       + hidden_weight * mean over layers of MSE(h_s, h_t)
For regression (STS-B) the soft term is the MSE between student and teacher outputs.
The T^2 factor keeps the soft gradients' scale independent of the temperature (Hinton).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from algo.train import model_inputs, task_loss

DEFAULT_TEMPERATURE = 2.0
DEFAULT_HARDNESS = 0.5


@dataclass(frozen=True)
class DistillConfig:
    temperature: float = DEFAULT_TEMPERATURE
    hardness: float = DEFAULT_HARDNESS  # weight of the teacher's soft targets, 0..1
    hidden_weight: float = 0.0  # weight of the hidden-state MSE; 0 = off

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"distillation temperature must be > 0, got {self.temperature}")
        if not 0.0 <= self.hardness <= 1.0:
            raise ValueError(f"distillation hardness must be in [0, 1], got {self.hardness}")
        if self.hidden_weight < 0:
            raise ValueError(f"hidden-state weight must be >= 0, got {self.hidden_weight}")


def soft_cross_entropy(student: torch.Tensor, teacher: torch.Tensor,
                       temperature: float) -> torch.Tensor:
    """T^2 * mean over the batch of -sum p_teacher(T) * log p_student(T)."""
    p_t = F.softmax(teacher / temperature, dim=-1)
    log_p_s = F.log_softmax(student / temperature, dim=-1)
    return temperature ** 2 * -(p_t * log_p_s).sum(dim=-1).mean()


def hidden_mse(student: tuple[torch.Tensor, ...],
               teacher: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Mean over layers (embeddings included) of the hidden-state MSE."""
    return torch.stack([F.mse_loss(s, t) for s, t in zip(student, teacher, strict=True)]).mean()


def distillation_loss(student_out: Any, teacher_out: Any, labels: torch.Tensor,
                      cfg: DistillConfig) -> torch.Tensor:
    hard = task_loss(student_out.logits, labels)
    if labels.dtype.is_floating_point:
        soft = F.mse_loss(student_out.logits, teacher_out.logits)
    else:
        soft = soft_cross_entropy(student_out.logits, teacher_out.logits, cfg.temperature)
    loss = (1.0 - cfg.hardness) * hard + cfg.hardness * soft
    if cfg.hidden_weight > 0:
        loss = loss + cfg.hidden_weight * hidden_mse(student_out.hidden_states,
                                                     teacher_out.hidden_states)
    return loss


class Distiller:
    """A `LossFn` for `algo.train.train`: runs the frozen teacher on each batch."""

    def __init__(self, teacher: torch.nn.Module, cfg: DistillConfig) -> None:
        self.teacher = teacher.eval()
        for p in self.teacher.parameters():
            p.requires_grad_(False)
        self.cfg = cfg

    @property
    def needs_hidden_states(self) -> bool:
        return self.cfg.hidden_weight > 0

    def __call__(self, outputs: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        device = batch["labels"].device
        self.teacher.to(device)
        with torch.no_grad():
            t_out = self.teacher(**model_inputs(batch),
                                 output_hidden_states=self.needs_hidden_states)
        return distillation_loss(outputs, t_out, batch["labels"], self.cfg)
