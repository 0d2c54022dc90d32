"""CDS Hooks 2.0: discovery, service calls, feedback, client authentication, prefetch."""
