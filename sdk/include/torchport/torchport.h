// Umbrella header for plugin authors.
#pragma once

#include "torchport/ir.h"
#include "torchport/options.h"
#include "torchport/plugin.h"
#include "torchport/registry.h"
#include "torchport/status.h"
#include "torchport/text_ir.h"
#include "torchport/files.h"
