// The ONNX plugin's entry point; everything it registers is listed in registration.cpp.
#include "registration.h"
#include "torchport/plugin.h"

#ifndef TORCHPORT_ONNX_VERSION
#define TORCHPORT_ONNX_VERSION "0.1.0"
#endif

TORCHPORT_PLUGIN("onnx", TORCHPORT_ONNX_VERSION, torchport::onnxplugin::registerOnnxPlugin)
