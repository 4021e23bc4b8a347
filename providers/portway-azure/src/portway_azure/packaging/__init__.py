"""What goes into a Function App's package: generated files now, the zip later."""

from __future__ import annotations

from portway_azure.packaging.app_files import function_app_py, host_json

__all__ = ["function_app_py", "host_json"]
