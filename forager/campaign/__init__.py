"""Farm campaigns: a list of sources to images, tasks and trajectories, unattended.

``spec`` — what a campaign makes (sources, versions, quotas, agent) · ``versions`` — a source line
expanded into K versions · ``plan`` — creating a campaign and its build items · ``stages`` — what
each stage's item runs and what it leads to · ``runner`` — the loop that claims items, hands them
to the job system and settles them · ``cancel`` — stopping new work, ending running work ·
``funnel`` — status and failure report · ``hooks`` — stages other packages add (traces) ·
``disk`` — disk per image and campaign, ``images prune`` · ``revalidate`` — re-running validation
of existing images. Every item's state is a row (``store.campaigns``)."""
