"""Static detection: reading a repository to find how to install and test it, with no
per-repository configuration. Nothing from the repository runs on the host.

``pipeline.detect`` runs the steps in order: project files (``project_files``), the Python version
(``pythons``), requirements declared by the project (``declared``) and by its tools (``tools``),
requirement specs and files (``requirements``), test paths (``testpaths``).
"""
