"""The container runtime seam: protocols (``base``), the registry that picks an implementation
(``registry``), Docker (``docker``), a host-directory stand-in for tests (``local``), the persistent
shell (``shell``)."""

from forager.runtime.base import ContainerInfo, ExecResult, Limits, Runtime, Sandbox, VolumeInfo
from forager.runtime.registry import get_runtime, register

__all__ = ["ContainerInfo", "ExecResult", "Limits", "Runtime", "Sandbox", "VolumeInfo", "get_runtime", "register"]
