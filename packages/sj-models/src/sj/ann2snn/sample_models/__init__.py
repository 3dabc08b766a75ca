"""The ANNs SpikingJelly's ann2snn tutorials convert (``ann2snn.sample_models``), with its module names so its
checkpoints load: :class:`CNN` (MNIST) and the CIFAR-10 ResNets (:func:`ResNet18` ... :func:`ResNet152`); and tiny
quantized transformers for SpikeZIP-TF conversion (:mod:`~sj.ann2snn.sample_models.spikezip_qann`) and a tiny ViT
for the transformer recipes (:mod:`~sj.ann2snn.sample_models.tiny_vit`)."""

from sj.ann2snn.sample_models.cifar10_resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    ResNet18,
    ResNet34,
    ResNet50,
    ResNet101,
    ResNet152,
)
from sj.ann2snn.sample_models.mnist_cnn import CNN
from sj.ann2snn.sample_models.spikezip_qann import TinyQRobertaClassifier, TinyQViT
from sj.ann2snn.sample_models.tiny_vit import TinyViT

__all__ = ["CNN", "BasicBlock", "Bottleneck", "ResNet", "ResNet18", "ResNet34", "ResNet50", "ResNet101", "ResNet152",
           "TinyQRobertaClassifier", "TinyQViT", "TinyViT"]
