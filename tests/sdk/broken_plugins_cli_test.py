#!/usr/bin/env python3
"""`torchport plugins --json` with every deliberately broken plugin of tests/plugins on the
search path: the CLI must not crash, must still list core and the good plugins, and must
report each broken plugin with its own reason (API version, throwing register function,
duplicate name, ...). An explicit `--plugin` that is broken is an error naming the file.

    broken_plugins_cli_test.py --torchport BIN --broken-dir DIR
"""
import argparse
import json
import os
import subprocess
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--torchport", required=True)
    parser.add_argument("--broken-dir", required=True)
    args = parser.parse_args()
    env = dict(os.environ, TORCHPORT_PLUGIN_PATH=args.broken_dir)
    result = subprocess.run([args.torchport, "plugins", "--json"], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"FAIL: torchport plugins exited {result.returncode} with broken plugins on the path:\n{result.stderr}")
    report = json.loads(result.stdout)
    names = [p["name"] for p in report["plugins"]]
    if "core" not in names:
        sys.exit(f"FAIL: core is not listed: {names}")
    for plugin in report["plugins"]:
        if not plugin["provides"]:
            sys.exit(f"FAIL: plugin {plugin['name']} is listed without what it adds")
    warnings = "\n".join(report["warnings"])
    expected = {
        "libtorchport_wrongapi.so": "was built for plugin API version",
        "libtorchport_throws.so": "its register function threw an exception: kaboom",
        "libtorchport_throwsunknown.so": "threw an unknown exception",
        "libtorchport_duplicate.so": "is already registered by plugin 'core'",
        "libtorchport_noentry.so": "does not export torchport_get_plugin_info",
        "libtorchport_garbage.so": "invalid ELF header",
    }
    for file, reason in expected.items():
        lines = [line for line in warnings.splitlines() if file in line]
        if not lines or reason not in lines[0]:
            sys.exit(f"FAIL: {file}: expected a warning containing {reason!r}, got {lines}\n{warnings}")
    # Nothing a failing plugin registered was kept.
    if "duplicate" in names or "throws" in names or "from-the-future" in names:
        sys.exit(f"FAIL: a failed plugin is listed as loaded: {names}")

    # Explicitly requested, a broken plugin is an error (exit code != 0) naming the file.
    broken = os.path.join(args.broken_dir, "libtorchport_wrongapi.so")
    result = subprocess.run([args.torchport, "plugins", "--plugin", broken, "--json"], capture_output=True, text=True,
                            env=dict(os.environ, TORCHPORT_PLUGIN_PATH=""))
    if result.returncode <= 0 or "libtorchport_wrongapi.so" not in result.stderr:
        sys.exit(f"FAIL: explicit broken plugin: exit {result.returncode}: {result.stderr}")
    print("PASS: broken plugins are reported, each with its reason; the CLI keeps working")


if __name__ == "__main__":
    main()
