"""``ula``: unsupervised logit adjustment by a bias proxy (uLA: Tsirigotis et al., NeurIPS 2023, "Group
Robust Classification Without Any Group Information"; official code github.com/tsirif/uLA).

Idea: a proxy that learned only the easy path predicts the shortcut; the kept model is trained with
logit adjustment (Menon et al. 2021) whose prior is the label distribution given the proxy's prediction,
so what the shortcut already explains gives little gradient.

1. Bias proxy: for the first ``proxy_epochs`` epochs (T) a proxy of the same architecture is trained on
   the labels with plain cross-entropy (the kept model is not trained; no checkpoint of it is chosen).
2. Before epoch T + 1 the frozen proxy scores the training split once (eval mode):
   p_b(. | x) = softmax(proxy(x) / ``temperature``) and b(x) = argmax p_b. The joint table
   M[j, c] = mean over training images of p_b(j | x) 1[y = c] gives p(y = c | b = j) = M[j, c] / sum_c M[j, c]
   (uLA's ``compute_confusion_matrix``, rows normalised as its ``cond``).
3. The kept model, freshly initialised, trains for the remaining epochs on
   CE(f(x) + ``eta`` * log p(. | b(x)), y) (uLA's ``logit_bias`` with student temperature eta); at test time
   its plain logits f(x) are used.
4. Checkpoint rule ``val-pseudo-group`` (uLA's bias-unsupervised validation score): val accuracy averaged
   over the non-empty pseudo-groups (label, proxy prediction), no bias labels.

Deviations from uLA, deliberate: the proxy is the same network trained end to end with ERM for T epochs
(uLA: MoCoV2+ self-supervised pretraining, then a linear probe on the labels, backbone frozen, at a constant
learning rate for 10-100 epochs by dataset, 10 on Colored MNIST); M is computed once over the whole training
split from the frozen proxy (uLA: an EMA with decay 0.999 over batches of augmented views of the same frozen
proxy, started from the first batch's table, which fluctuates around this one); the kept model starts from a
fresh initialisation (uLA: from the self-supervised backbone); one learning-rate schedule spans both stages
(uLA restarts its warmup-cosine schedule for the kept model; the default `constant` schedule is unaffected); entries of p(. | b) are clamped at 1e-12 before the log. T, eta and
the temperature keep the values below (uLA's scripts: eta = temperature = 1), not tuned on this data, so its
results hold "as configured".

Knows nothing about the bias: no bias labels, no transform.

Options: ``proxy_epochs`` (T), ``eta`` (weight of the log-prior), ``temperature`` (of the proxy's softmax).
"""

import torch
import torch.nn.functional as F
from pydantic import Field

from .base import StrategyConfig
from .two_stage import TwoStageStrategy


class ULAConfig(StrategyConfig):
    proxy_epochs: int = Field(1, ge=1, le=1000, description="T: ERM epochs of the bias proxy")
    eta: float = Field(1.0, ge=0.0, le=100.0, description="weight of the proxy's log-probabilities added to the logits")
    temperature: float = Field(1.0, gt=0.0, le=100.0, description="temperature of the proxy's softmax")
    batch_size: int = Field(1024, ge=1, description="images per forward pass when the proxy scores the training split")


class ULA(TwoStageStrategy):
    name = "ula"
    title = "logit adjustment by a bias proxy (uLA)"  # readable label of tables (README, report)
    Config = ULAConfig
    # tune = true: eta (the scripts' 1; 0.5) and the proxy's length T (1 or 5 epochs)
    tuning = {"strategy.ula.eta": [1.0, 0.5], "strategy.ula.proxy_epochs": [1, 5]}
    helper_name = "proxy"
    helper_role = "bias proxy"
    frozen_name = "scored"
    stage_option = "proxy_epochs"

    def __init__(self, cfg, ctx=None):
        super().__init__(cfg, ctx)
        self.register_buffer("log_prior", torch.zeros(self.ctx.n_train, self.ctx.num_classes))

    def freeze(self, x_train, y_train):
        p = self.helper_probs(x_train, self.cfg.batch_size, self.cfg.temperature)
        c = self.ctx.num_classes
        joint = p.T @ F.one_hot(y_train, c).float() / p.shape[0]  # M[j, c]: proxy says j, label is c
        cond = joint / joint.sum(dim=1, keepdim=True).clamp_min(1e-30)
        self.log_prior.copy_(cond.clamp_min(1e-12).log()[p.argmax(1)])

    def stage_two_loss(self, model, batch):
        x, y = batch["x"], batch["y"]
        logits = model(x)
        prior = self.log_prior[batch["index"].to(self.log_prior.device)]
        adjusted = F.cross_entropy(logits.float() + self.cfg.eta * prior, y)  # the prior kept in fp32 under autocast
        with torch.no_grad():
            prior_right = (prior.argmax(1) == y).float().mean()
        return adjusted, {"ce_adjusted": adjusted.item(), "prior_acc": prior_right.item()}


STRATEGY = ULA
