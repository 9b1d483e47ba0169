"""Task to trajectory: the sandboxed environment, its tools, the agents, the judged reward.

``spec`` (the task as an episode sees it) → ``environment`` (sandbox + shell) → ``tools`` →
``agents`` (registry: ``oracle``, ``llm``) → ``run`` (one episode) / ``batch`` (many) →
``reward`` (judged in a fresh container); ``reaper`` ends what dead processes left."""
