"""Argo CD's Lua customizations for Shiftlane, run as Argo CD runs them.

Argo CD runs health checks and resource actions in Lua 5.1 with the resource as the global `obj`, the
base library, `string`, `table` and `math`, and `require("os")` for time; nothing else. lupa embeds a real
Lua 5.1; scripts run in that environment, with os.time fixed by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from lupa import lua51

PATCH_FILE = Path(__file__).resolve().parents[2] / "docs" / "argocd" / "argocd-cm-patch.yaml"
HEALTH_KEY = "resource.customizations.health.shiftlane.io_Rollout"
ACTIONS_KEY = "resource.customizations.actions.shiftlane.io_Rollout"

_SANDBOX = """
return function(source, name, obj, now)
  local os_lib = {time = function() return now end, date = os.date}
  local env = {
    obj = obj, assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs, pcall = pcall,
    select = select, tonumber = tonumber, tostring = tostring, type = type, unpack = unpack,
    string = string, table = table, math = math,
    require = function(module)
      if module == "os" then return os_lib end
      error("module " .. module .. " is not available to Argo CD's Lua")
    end,
  }
  local chunk, err = loadstring(source, name)
  if chunk == nil then error(err) end
  setfenv(chunk, env)
  return chunk()
end
"""


@dataclass(frozen=True)
class Health:
    status: str
    message: str


class ArgoCdLua:
    def __init__(self, path: Path = PATCH_FILE):
        data = yaml.safe_load(path.read_text())["data"]
        self.health_script: str = data[HEALTH_KEY]
        actions = yaml.safe_load(data[ACTIONS_KEY])
        self.discovery_script: str = actions["discovery.lua"]
        self.action_scripts: dict[str, str] = {d["name"]: d["action.lua"] for d in actions["definitions"]}
        self.lua = lua51.LuaRuntime(unpack_returned_tuples=False)
        self._run = self.lua.execute(_SANDBOX)

    def run(self, source: str, name: str, obj: dict[str, Any], now: int = 0) -> Any:
        return _python(self._run(source, name, self.lua.table_from(obj, recursive=True), now))

    def health(self, obj: dict[str, Any]) -> Health:
        result = self.run(self.health_script, "health.lua", obj)
        return Health(result["status"], result.get("message", ""))

    def enabled_actions(self, obj: dict[str, Any]) -> set[str]:
        actions = self.run(self.discovery_script, "discovery.lua", obj)
        return {name for name, flags in actions.items() if not flags.get("disabled")}

    def action(self, name: str, obj: dict[str, Any], now: int) -> dict[str, Any]:
        return self.run(self.action_scripts[name], f"{name}/action.lua", obj, now)


def _python(value: Any) -> Any:
    """A Lua table as a list (keys 1..n) or a dict; other values as they are."""
    if lua51.lua_type(value) != "table":
        return value
    items = {k: _python(v) for k, v in value.items()}
    if items and all(isinstance(k, int) for k in items) and sorted(items) == list(range(1, len(items) + 1)):
        return [items[i] for i in range(1, len(items) + 1)]
    return items
