"""The domain logic, free of Home Assistant: nothing here imports it.

Beside ``fleet/`` (the Fleet API client), this is what the integration knows
about cars and electricity, testable and usable without Home Assistant (the
cost benchmark drives it directly):

* ``tracker`` — every car's runtime and its one writer (:class:`VehicleTracker`):
  the one place a car's state changes, and one scout cycle;
* ``policy`` and ``geo`` — when to look, and the geofence;
* ``worker_run`` — one worker run, and the one place a car is woken
  (:meth:`ChargingWorker.async_wake`);
* ``planner`` — the cheapest charging window (pure);
* ``tariffs`` — fixed windows, forecasts, and the adapters for other
  integrations' price sensors.
"""
