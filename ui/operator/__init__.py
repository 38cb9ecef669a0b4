"""The operator window: live waterfall, roll map, counters, status lights and alarms."""
