// `torchport plugins`: what was loaded, from where, and what each plugin adds.
#include <algorithm>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "torchport/host/json.h"
#include "torchport/host/plugin_host.h"

#ifndef TORCHPORT_VERSION
#define TORCHPORT_VERSION "0.0.0"
#endif

namespace torchport::cli {
namespace {

struct PluginsArgs {
  bool json = false;
  std::vector<std::string> plugins;
};

// The directories scanned for plugins, in order, for display.
std::vector<std::string> searchPath() {
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("TORCHPORT_PLUGIN_PATH"); env != nullptr && *env != '\0') {
    std::string list(env);
    size_t start = 0;
    while (start <= list.size()) {
      const size_t end = std::min(list.find(':', start), list.size());
      if (end > start) dirs.push_back(list.substr(start, end - start) + "  ($TORCHPORT_PLUGIN_PATH)");
      start = end + 1;
    }
  }
  dirs.push_back(PluginHost::installPluginDir().string() + "  (install)");
  return dirs;
}

OptionValue stringList(const std::vector<std::string>& items) {
  OptionValue::List list;
  for (const std::string& item : items) list.push_back(json::string(item));
  return json::list(std::move(list));
}

}  // namespace

Command addPluginsCommand(CLI::App& parent, GlobalOptions& globals) {
  auto args = std::make_shared<PluginsArgs>();
  CLI::App* command = parent.add_subcommand("plugins", "List loaded plugins: name, version, file and what each adds");
  command->add_flag("--json", args->json, "Print as JSON");
  command->add_option("--plugin", args->plugins, "Load this plugin file too (repeatable)")
      ->type_name("FILE")
      ->allow_extra_args(false);

  return {command, [args, &globals]() -> int {
            if (Status status = applyLogging(globals); !status.isOk()) return reportError(status);
            auto opened = openSession(globals, args->plugins);
            if (!opened.hasValue()) return reportError(opened.status());
            const Session& session = **opened;
            const std::vector<std::string> coreProvides = session.registry().namesOwnedBy("core");

            if (args->json) {
              OptionValue::List plugins;
              plugins.push_back(json::map({{"name", json::string("core")},
                                           {"version", json::string(TORCHPORT_VERSION)},
                                           {"path", json::null()},
                                           {"builtin", json::boolean(true)},
                                           {"provides", stringList(coreProvides)}}));
              for (const LoadedPlugin& plugin : session.plugins()) {
                plugins.push_back(json::map({{"name", json::string(plugin.name)},
                                             {"version", json::string(plugin.version)},
                                             {"path", json::string(plugin.path.string())},
                                             {"builtin", json::boolean(false)},
                                             {"provides", stringList(plugin.provides)}}));
              }
              printJson(json::map({{"plugins", json::list(std::move(plugins))},
                                   {"search_path", stringList(searchPath())},
                                   {"warnings", stringList(session.warnings())}}));
              return 0;
            }

            // Grouped by category ("pass:x" -> passes: x), wrapped at 100 columns.
            const auto printPlugin = [](const std::string& title, const std::vector<std::string>& provides) {
              std::cout << title << '\n';
              std::vector<std::pair<std::string, std::vector<std::string>>> groups;
              for (const std::string& item : provides) {
                const size_t colon = item.find(':');
                const std::string category = colon == std::string::npos ? "other" : item.substr(0, colon);
                const std::string name = colon == std::string::npos ? item : item.substr(colon + 1);
                auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == category; });
                if (it == groups.end()) it = groups.insert(groups.end(), {category, {}});
                it->second.push_back(name);
              }
              if (groups.empty()) std::cout << "    provides nothing\n";
              for (const auto& [category, names] : groups) {
                const std::string plural = category.ends_with("s") ? category + "es" : category + "s";
                std::string line = "    " + plural + " (" + std::to_string(names.size()) + "):";
                const std::string continuation(8, ' ');
                for (size_t i = 0; i < names.size(); ++i) {
                  const std::string item = " " + names[i] + (i + 1 < names.size() ? "," : "");
                  if (line.size() + item.size() > 100 && line.size() > continuation.size()) {
                    std::cout << line << '\n';
                    line = continuation;
                  }
                  line += item;
                }
                std::cout << line << '\n';
              }
            };
            printPlugin(std::string("core ") + TORCHPORT_VERSION + "  (built in)", coreProvides);
            for (const LoadedPlugin& plugin : session.plugins()) {
              printPlugin(plugin.name + " " + plugin.version + "  " + plugin.path.string(), plugin.provides);
            }
            if (session.plugins().empty()) std::cout << "(no plugins loaded)\n";
            std::cout << "\nsearch path:\n";
            for (const std::string& dir : searchPath()) std::cout << "  " << dir << '\n';
            return 0;
          }};
}

}  // namespace torchport::cli
