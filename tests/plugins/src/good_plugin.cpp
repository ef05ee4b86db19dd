// A well-behaved plugin. Built several times (tests/plugins/CMakeLists.txt) with different
// TP_TEST_PLUGIN_NAME / TP_TEST_VARIANT so that tests can tell which copy of the search path
// was loaded. Its pass `<name>-tag` stamps every node with attribute "tagged_by" = variant.
#include <string>

#include "torchport/torchport.h"

#ifndef TP_TEST_PLUGIN_NAME
#error "define TP_TEST_PLUGIN_NAME"
#endif
#ifndef TP_TEST_VARIANT
#error "define TP_TEST_VARIANT"
#endif

namespace {

torchport::Status tagNodes(torchport::Graph& graph, torchport::PassContext& context) {
  for (torchport::Node* node : graph.nodes()) node->setAttribute("tagged_by", std::string(TP_TEST_VARIANT));
  context.setChanged(graph.numNodes() > 0);
  return torchport::Status::ok();
}

torchport::Status registerAll(torchport::Registry& registry) {
  torchport::PassInfo info;
  info.name = std::string(TP_TEST_PLUGIN_NAME) + "-tag";
  info.summary = "Stamps every node with attribute tagged_by (plugin host tests)";
  TP_RETURN_IF_ERROR(registry.addPass(std::move(info), tagNodes));
  torchport::KernelEntry kernel;
  kernel.opKind = std::string("tptest_") + TP_TEST_PLUGIN_NAME + "::identity";
  kernel.summary = "Returns its inputs";
  kernel.evaluate = [](const torchport::Node&, std::span<const torchport::Tensor> inputs)
      -> torchport::Expected<std::vector<torchport::Tensor>> {
    return std::vector<torchport::Tensor>(inputs.begin(), inputs.end());
  };
  return registry.addKernel(std::move(kernel));
}

}  // namespace

TORCHPORT_PLUGIN(TP_TEST_PLUGIN_NAME, "1.0.0+" TP_TEST_VARIANT, registerAll)
