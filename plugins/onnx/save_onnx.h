// save-onnx{path=...}: writes an ONNX-dialect graph as an ONNX ModelProto.
//
//  - Graph I/O renamed in order by input_names / output_names; dynamic_axes turn dims of
//    named inputs/outputs into dim_params ({name: {axis: symbol}} or {name: [axes]}, the
//    latter auto-named "NAME_dynamic_axis_K").
//  - prim::Constant tensors become initializers of the main graph (also those used in If /
//    Loop bodies, which see outer names), named by their "param" attribute when present;
//    identical contents (same dtype, shape, bytes) are stored once.
//  - value_info for every intermediate value with a known dtype; symbolic dims as dim_param.
//  - ir_version follows onnx.helper's table (opset 13/14 -> 7, 15..18 -> 8).
//  - Refuses graphs that still contain aten/prim nodes ("run lower-to-onnx first").
//  - For opset <= 17, onnx::checker::check_model and strict shape inference (error_mode 1,
//    check_type) run on the in-memory model BEFORE anything is written; a failure is an
//    internal error carrying the checker's message. libonnx 1.12 knows opsets <= 17 only,
//    so opset 18 models are written unchecked (reported as "onnx.checker": "skipped ...").
//  - external_data: auto (beyond protobuf's 2 GiB limit), always, never. External tensors
//    go to "<model stem>.data" next to the model, each at a 4096-byte aligned offset.
//  - Writes are atomic (temp file + rename): nothing is written when any step fails.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "torchport/registry.h"

namespace onnx {
class ModelProto;
}

namespace torchport::onnxplugin {

PassInfo saveOnnxInfo();
Status validateSaveOnnxOptions(const Options& options);
Status runSaveOnnx(const Graph& graph, PassContext& context);

// IR version for an opset, as in onnx.helper.VERSION_TABLE.
int64_t irVersionForOpset(int64_t opset);

}  // namespace torchport::onnxplugin
