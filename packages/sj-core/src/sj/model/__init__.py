"""The model zoo: spiking ResNet, SEW ResNet, spiking VGG, the PLIF reference nets and a compact Spikformer.

Every model is multi-step and T-agnostic: input ``[T, N, C, H, W]``, output ``[T, N, num_classes]``; every builder
takes ``neuron=`` (a neuron class or factory), ``surrogate=`` (a surrogate instance or class) and further neuron
keyword arguments (``tau=``, ``detach_reset=``, ``backend=``, ...). ``sj model list`` prints the catalogue.
"""

from sj.model.common import NeuronFactory, count_parameters
from sj.model.plif import (
    PLIFNet,
    plif_cifar10,
    plif_cifar10_dvs,
    plif_dvs_gesture,
    plif_fashion_mnist,
    plif_mnist,
    plif_nmnist,
)
from sj.model.registry import MODELS, ModelInfo, get_model, list_models
from sj.model.resnet import (
    SpikingResNet,
    sew_resnet18,
    sew_resnet34,
    sew_resnet50,
    spiking_resnet18,
    spiking_resnet34,
    spiking_resnet50,
)
from sj.model.spikformer import Spikformer, spikformer
from sj.model.vgg import SpikingVGG, spiking_vgg11, spiking_vgg11_bn, spiking_vgg16, spiking_vgg16_bn

__all__ = ["MODELS", "ModelInfo", "NeuronFactory", "PLIFNet", "Spikformer", "SpikingResNet", "SpikingVGG",
           "count_parameters", "get_model", "list_models", "plif_cifar10", "plif_cifar10_dvs", "plif_dvs_gesture",
           "plif_fashion_mnist", "plif_mnist", "plif_nmnist", "sew_resnet18", "sew_resnet34", "sew_resnet50",
           "spikformer", "spiking_resnet18", "spiking_resnet34", "spiking_resnet50", "spiking_vgg11",
           "spiking_vgg11_bn", "spiking_vgg16", "spiking_vgg16_bn"]
