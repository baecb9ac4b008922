"""The HA-free domain: the Home Assistant layer imports it; it imports fleet/ only.

Never Home Assistant (a test checks each module). Beside ``fleet/`` (the
Fleet API client), this is what the integration knows about cars and
electricity, testable and usable without Home Assistant (the cost benchmark
drives it directly):

* ``car`` — a car's data: status, settings, transitions, and the (frozen)
  worker-run records (:class:`WorkerRun`, its trigger and result);
* ``tracker`` — every car's runtime and its one writer (:class:`VehicleTracker`):
  the one place a car's state changes, and one scout cycle;
* ``schedules`` — our charge schedules in a car: which are ours (by id or by
  shape), and which a plan asks for;
* ``policy`` and ``geo`` — when to look, and the geofence (:class:`Home`);
* ``worker_run`` — one worker run, and the one place a car is woken
  (:meth:`ChargingWorker.async_wake`);
* ``plan`` — what a plan is: the request, its windows, its explanation;
* ``planner`` — the cheapest charging window, or split windows (pure), with
  ``split`` the search for the cheapest set of windows;
* ``tariffs`` — fixed windows, forecasts, and the adapters for other
  integrations' price sensors.
"""
