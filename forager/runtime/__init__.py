"""The container runtime seam: protocols (``base``), the registry that picks an implementation
(``registry``), Docker (``docker``, ``docker_sandbox``, ``pipcache``), a host-directory stand-in
for tests (``local``: not a sandbox), tar streams (``tario``) and the persistent shell (``shell``).
Nothing outside this package touches the Docker SDK (``forager.errors.is_transient`` aside)."""

from forager.runtime.base import ContainerInfo, ExecResult, Limits, Runtime, Sandbox, VolumeInfo
from forager.runtime.registry import get_runtime, register

__all__ = ["ContainerInfo", "ExecResult", "Limits", "Runtime", "Sandbox", "VolumeInfo", "get_runtime", "register"]
