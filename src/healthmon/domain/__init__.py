"""The pure core: webservers, probe results and the health state machine (standard library only)."""
