"""The driver: a study prepared once (``prepare``), the space a spec makes for a model
(``space``), the loop that asks, submits and records (``loop``), the observer protocol
(``observer``) and what a Ray worker loads (``worker``)."""
