"""The hub's front door: the ``hub`` command line and the jobs it starts (``hub demo``)."""
