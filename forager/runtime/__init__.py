"""The container runtime seam: protocols, the Docker implementation, and a fake."""
