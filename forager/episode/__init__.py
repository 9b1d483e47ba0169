"""Task to trajectory: the sandboxed environment, its tools, the agents, the judged reward."""
