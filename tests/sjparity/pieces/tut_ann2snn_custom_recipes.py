# ruff: noqa
"""Tutorial ann2snn, "Other recipes and custom recipes": an FXConversionRecipe subclass overriding only replace(), run
by Converter, and a ModuleConversionRecipe subclass run by ModuleConverter, on the sample MNIST CNN."""
import torch
from spikingjelly.activation_based import ann2snn
from spikingjelly.activation_based.ann2snn.sample_models import mnist_cnn

calls = []

class MyFXRecipe(ann2snn.FXConversionRecipe):
    def replace(self, converter, fx_model):
        # Implement the algorithm-specific graph rewrite here.
        calls.append("replace")
        return fx_model

class MyModuleRecipe(ann2snn.ModuleConversionRecipe):
    def convert_module(self, converter, ann):
        # Replace submodules in ann or return a converted copy.
        calls.append("convert_module")
        return ann

ann = mnist_cnn.CNN().eval()
x = torch.rand([2, 1, 28, 28])
fx_model = ann2snn.Converter(recipe=MyFXRecipe()).convert(ann)
converted = ann2snn.ModuleConverter(recipe=MyModuleRecipe()).convert(ann)

with torch.no_grad():
    result = {"calls": calls, "fx": fx_model(x), "module": converted(x), "ann": ann(x),
              "fx_is_graph_module": isinstance(fx_model, torch.fx.GraphModule)}
