"""``resnet18``: torchvision's ResNet-18 adapted to 28x28 RGB input.

The ImageNet stem (7x7 stride-2 conv and max-pool) would shrink a 28x28 image
to 7x7 before the first block; it is replaced by a 3x3 stride-1 conv and no
max-pool, as is usual for CIFAR-sized inputs. 10 classes.
"""

import torch.nn as nn

from . import register


@register("resnet18")
def build(num_classes: int = 10) -> nn.Module:
    from torchvision.models import resnet18  # imported here: torchvision costs ~2 s of every `lazy` start-up

    model = resnet18(weights=None, num_classes=num_classes)
    model.conv1 = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1, bias=False)
    model.maxpool = nn.Identity()
    return model
