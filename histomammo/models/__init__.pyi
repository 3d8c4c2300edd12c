"""Public names of ``histomammo.models``: the one list, read by type checkers and, through
[`attach_stub`][histomammo._lazy.attach_stub], by the lazy ``__init__.py``; it equals the
registry's name tables ``BUILDERS`` and ``PUBLIC_NAMES`` (``tests/test_import.py`` checks)."""

from histomammo.models._registry import create_model as create_model
from histomammo.models._registry import list_models as list_models
from histomammo.models._registry import register_model as register_model
from histomammo.models._weights import load_weights as load_weights
from histomammo.models._weights import read_state_dict as read_state_dict
from histomammo.models.alexnet import GreyAlexNet as GreyAlexNet
from histomammo.models.alexnet import alexnet_grey as alexnet_grey
from histomammo.models.alexnet import alexnet_large as alexnet_large
from histomammo.models.allconv import AllConvNet as AllConvNet
from histomammo.models.allconv import all_conv_net as all_conv_net
from histomammo.models.calibration import calibrate_batchnorm as calibrate_batchnorm
from histomammo.models.densenet_p4m import P4MDenseNet as P4MDenseNet
from histomammo.models.densenet_p4m import p4m_densenet as p4m_densenet
from histomammo.models.detection import fasterrcnn_brecahad as fasterrcnn_brecahad
from histomammo.models.equivariant import GCNN as GCNN
from histomammo.models.equivariant import gcnn as gcnn
from histomammo.models.equivariant_allconv import AllGConvNet as AllGConvNet
from histomammo.models.equivariant_allconv import all_gconv_net as all_gconv_net
from histomammo.models.equivariant_baseline import PlainCNN as PlainCNN
from histomammo.models.equivariant_baseline import plain_cnn as plain_cnn
from histomammo.models.inception import InceptionV3Transfer as InceptionV3Transfer
from histomammo.models.inception import inception_loss as inception_loss
from histomammo.models.inception import inception_v3_transfer as inception_v3_transfer
from histomammo.models.invariance import invariance_ratio as invariance_ratio
from histomammo.models.maskrcnn import maskrcnn_glas as maskrcnn_glas
from histomammo.models.resnet import GreyResNet as GreyResNet
from histomammo.models.resnet import resnet50_grey as resnet50_grey
from histomammo.models.resnet import resnet50_patch as resnet50_patch
from histomammo.models.unets import UNet as UNet
from histomammo.models.unets import unet as unet
from histomammo.models.vgg import VGG16GAP as VGG16GAP
from histomammo.models.vgg import vgg16_gap as vgg16_gap
from histomammo.models.whole_image import PatchToImageClassifier as PatchToImageClassifier
from histomammo.models.whole_image import patch_to_image as patch_to_image
