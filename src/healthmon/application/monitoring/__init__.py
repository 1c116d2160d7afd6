"""The worker's monitoring loop, one concern per module: schedule, admission, dispatch, leases, writing.

`monitor.MonitorWebservers` wires them, `settings.MonitorSettings` paces them, and `metrics` lists
what they count.
"""
