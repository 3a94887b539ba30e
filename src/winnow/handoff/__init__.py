"""The handoff from marketing to sales: the review queue, owners, SLAs and hand-raises."""
