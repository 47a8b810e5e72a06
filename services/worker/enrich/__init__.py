"""Local, deterministic enrichment: end reason, caller name, topic label, summary."""
