"""The model seam: the OpenAI-compatible client, and a deterministic fake."""
