"""The demo: a synthetic B2B SaaS world and the workspace built from it."""
